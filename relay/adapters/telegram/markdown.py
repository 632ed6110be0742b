"""The body's Markdown subset as styled runs, and runs as Telegram HTML with every text escaped.

A body is paragraphs separated by blank lines; inside one, lines starting with "> " are a
quote, `**bold**`, `_italic_` and `[text](https://url)` style the text. Markers that do not
pair up stay literal text. Runs (text plus style) are the unit the splitter cuts: a cut between
or inside runs can never land inside a tag or an HTML entity, since HTML is made afterwards.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

_PARAGRAPHS = re.compile(r"\n[ \t]*\n\s*")
_INLINE = re.compile(
    r"\[(?P<label>[^\[\]\n]+)\]\((?P<url>https?://[^\s()<>\"]+)\)"
    r"|\*\*(?P<bold>\S(?:.*?\S)??)\*\*"
    r"|(?<![A-Za-z0-9_])_(?P<italic>\S(?:.*?\S)??)_(?![A-Za-z0-9_])",
    re.DOTALL,
)


@dataclass(frozen=True)
class Run:
    """A stretch of text with one style."""

    text: str
    bold: bool = False
    italic: bool = False
    href: str | None = None


@dataclass(frozen=True)
class Block:
    """A paragraph (or a quote) of runs; blocks are shown separated by a blank line."""

    runs: tuple[Run, ...]
    quote: bool = False
    glue: str = "\n\n"  # what separates this block from the one before it

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


def parse_body(body: str) -> list[Block]:
    """The body as blocks: paragraphs, with runs of "> " lines as quotes."""
    blocks: list[Block] = []
    text = body.replace("\r\n", "\n").strip("\n")
    for paragraph in _PARAGRAPHS.split(text):
        if not paragraph.strip():
            continue
        glue = "\n\n"
        lines: list[str] = []
        quoting = False
        for line in (raw.rstrip() for raw in paragraph.split("\n")):
            is_quote = line.startswith("> ") or line == ">"
            if lines and is_quote != quoting:
                blocks.append(Block(inline("\n".join(lines)), quoting, glue))
                glue, lines = "\n", []
            quoting = is_quote
            lines.append(line[2:] if is_quote else line)
        if lines:
            blocks.append(Block(inline("\n".join(lines)), quoting, glue))
    return [b for b in blocks if b.runs]


def inline(text: str, bold: bool = False, italic: bool = False) -> tuple[Run, ...]:
    """Styled runs of one paragraph's text."""
    runs: list[Run] = []
    pos = 0
    for match in _INLINE.finditer(text):
        if match.start() > pos:
            runs.append(Run(text[pos : match.start()], bold, italic))
        if match.group("label") is not None:
            runs.append(Run(match.group("label"), bold, italic, match.group("url")))
        elif match.group("bold") is not None:
            runs.extend(inline(match.group("bold"), True, italic))
        else:
            runs.extend(inline(match.group("italic"), bold, True))
        pos = match.end()
    if pos < len(text):
        runs.append(Run(text[pos:], bold, italic))
    return tuple(r for r in runs if r.text)


def escape(text: str) -> str:
    """Editor text as HTML-mode text: `<`, `>` and `&` escaped."""
    return html.escape(text, quote=False)


def run_html(run: Run) -> str:
    out = escape(run.text)
    if run.italic:
        out = f"<i>{out}</i>"
    if run.bold:
        out = f"<b>{out}</b>"
    if run.href is not None:
        out = f'<a href="{html.escape(run.href, quote=True)}">{out}</a>'
    return out


def block_html(block: Block) -> str:
    inner = "".join(run_html(r) for r in block.runs)
    return f"<blockquote>{inner}</blockquote>" if block.quote else inner


def links(blocks: list[Block]) -> int:
    """How many links the blocks carry."""
    return sum(1 for b in blocks for r in b.runs if r.href is not None)


def cut_runs(runs: tuple[Run, ...], at: int) -> tuple[tuple[Run, ...], tuple[Run, ...]]:
    """Split runs at character offset `at` of their joined text."""
    head: list[Run] = []
    tail: list[Run] = []
    seen = 0
    for run in runs:
        end = seen + len(run.text)
        if end <= at:
            head.append(run)
        elif seen >= at:
            tail.append(run)
        else:
            head.append(replace(run, text=run.text[: at - seen]))
            tail.append(replace(run, text=run.text[at - seen :]))
        seen = end
    return tuple(head), tuple(tail)


def strip_runs(runs: tuple[Run, ...]) -> tuple[Run, ...]:
    """Runs without leading and trailing whitespace (at a cut)."""
    items = list(runs)
    while items and not items[0].text.strip():
        items.pop(0)
    while items and not items[-1].text.strip():
        items.pop()
    if items:
        items[0] = replace(items[0], text=items[0].text.lstrip())
        items[-1] = replace(items[-1], text=items[-1].text.rstrip())
    return tuple(items)
