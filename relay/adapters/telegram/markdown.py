"""The body's tree (`relay.markup`) as styled runs, and runs as Telegram HTML, every text escaped.

Runs (text plus style) are the unit the splitter cuts: a cut between or inside runs can never
land inside a tag or an HTML entity, since HTML is made afterwards. Paragraphs and quotes are
blocks; a quote's paragraphs stay in one `<blockquote>`, separated by a blank line.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from relay import markup, pieces

log = logging.getLogger(__name__)


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
    """The body as blocks of runs, read by `relay.markup`."""
    blocks = []
    for block in markup.parse(body).blocks:
        if isinstance(block, markup.Quote):
            runs: list[Run] = []
            for i, paragraph in enumerate(block.paragraphs):
                runs.extend([Run("\n\n")] if i else [])
                runs.extend(inline(paragraph.inlines))
            blocks.append(Block(tuple(runs), quote=True))
        else:
            blocks.append(Block(tuple(inline(block.inlines))))
    return blocks


def inline(
    items: Iterable[markup.Inline],
    bold: bool = False,
    italic: bool = False,
    href: str | None = None,
) -> list[Run]:
    """The runs of a paragraph's inlines (bare URLs are text: Telegram links them itself)."""
    runs: list[Run] = []
    for item in items:
        if isinstance(item, markup.Text | markup.BareUrl):
            text = item.text if isinstance(item, markup.Text) else item.url
            runs.append(Run(text, bold, italic, href))
        elif isinstance(item, markup.LineBreak):
            runs.append(Run("\n", bold, italic, href))
        elif isinstance(item, markup.Bold):
            runs.extend(inline(item.children, True, italic, href))
        elif isinstance(item, markup.Italic):
            runs.extend(inline(item.children, bold, True, href))
        else:
            runs.extend(inline(item.children, bold, italic, item.url))
    return runs


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
    return pieces.cut(runs, at)


def strip_runs(runs: tuple[Run, ...]) -> tuple[Run, ...]:
    """Runs without leading and trailing whitespace (at a cut)."""
    return pieces.strip(runs)
