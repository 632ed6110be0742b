"""The body's Markdown subset as Discord Markdown, with every editor character escaped.

The subset (`relay.model`): paragraphs separated by blank lines, `**bold**`, `_italic_`,
`[text](https://url)` and lines starting with `> ` (quotes). Anything else an editor types is
shown literally: Markdown characters are backslash-escaped, `<` is escaped so `<@id>`, `<@&id>`,
`<#id>` and `<t:…>` never become mentions or timestamps, and `@everyone` / `@here` get a
zero-width space so they read the same but can never ping. Bare URLs (starting a word or after
punctuation) are not escaped: Discord links them before it parses Markdown, and a backslash
would change the link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ZWSP = "\u200b"
_SPECIAL = re.compile(r"([\\*_~`|\[\]<])")
_EVERYONE = re.compile(r"@(everyone|here)", re.IGNORECASE)
# RFC 3986 characters without `*` and brackets: Markdown markers after a URL stay markers
_URL = re.compile(r"(?<![0-9A-Za-z])https?://[A-Za-z0-9\-._~:/?#@!$&'()+,;=%]+")
_LINE_START = re.compile(r"^(\s*)([-+>#])")
_NUMBERED = re.compile(r"^(\s*\d+)\.(\s)")
_INLINE = re.compile(
    r"\[(?P<ltext>[^\]\n]+)\]\((?P<url>https?://[^\s()<>]{1,500})\)"
    r"|\*\*(?P<bold>\S(?:.*?\S)?)\*\*"
    r"|(?<![\w_])_(?P<italic>\S(?:.*?\S)?)_(?![\w_])"
)


@dataclass(frozen=True)
class Span:
    """A run of editor text with its styles (the subset's only ones)."""

    text: str
    bold: bool = False
    italic: bool = False
    url: str | None = None


def escape_word(word: str) -> str:
    """Escape one whitespace-free token (a bare URL in it stays as typed)."""
    url = _URL.search(word)
    if url is not None:
        link = _no_ping(url.group())
        return escape_word(word[: url.start()]) + link + escape_word(word[url.end() :])
    return _no_ping(_SPECIAL.sub(r"\\\1", word))


def _no_ping(text: str) -> str:
    """`@everyone` / `@here` with a zero-width space after the `@` (even inside a URL)."""
    return _EVERYONE.sub(lambda m: "@" + ZWSP + m.group(1), text)


def escape(text: str) -> str:
    """Plain editor text as Discord Markdown that displays exactly that text."""
    return "".join(escape_word(w) if w and not w.isspace() else w for w in re.split(r"(\s+)", text))


def parse_inline(text: str, bold: bool = False, italic: bool = False) -> list[Span]:
    """Split one line into styled spans; unmatched markers stay literal text."""
    spans: list[Span] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            spans.append(Span(text[pos : m.start()], bold, italic))
        if m.group("url"):
            spans.append(Span(m.group("ltext"), bold, italic, m.group("url")))
        elif m.group("bold") is not None:
            spans.extend(parse_inline(m.group("bold"), True, italic))
        else:
            spans.extend(parse_inline(m.group("italic"), bold, True))
        pos = m.end()
    if pos < len(text):
        spans.append(Span(text[pos:], bold, italic))
    return spans


def render_span(span: Span) -> str:
    """One span as Discord Markdown."""
    core = span.text.strip()
    if not core:
        return span.text
    lead = span.text[: len(span.text) - len(span.text.lstrip())]
    trail = span.text[len(span.text.rstrip()) :]
    out = escape(core)
    if span.url is not None:
        out = f"[{out}]({span.url})"
    if span.italic:
        out = f"_{out}_"
    if span.bold:
        out = f"**{out}**"
    return lead + out + trail


@dataclass(frozen=True)
class Line:
    """One source line: a quote or not, and its spans; blank lines separate paragraphs."""

    spans: tuple[Span, ...]
    quote: bool = False

    @property
    def blank(self) -> bool:
        return not self.quote and not any(s.text.strip() for s in self.spans)


def parse(body: str) -> list[Line]:
    """The body as lines of spans."""
    lines: list[Line] = []
    for raw in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        quote = raw.startswith("> ") or raw == ">"
        text = raw[2:] if raw.startswith("> ") else "" if raw == ">" else raw
        lines.append(Line(tuple(parse_inline(text)), quote))
    return lines


def escape_line_start(text: str) -> str:
    """Escape what a line start would turn into a header, list or quote ("# ", "- ", "> ",
    "1. ", "-# ")."""
    return _NUMBERED.sub(r"\1\\.\2", _LINE_START.sub(r"\1\\\2", text))


def escape_headline(text: str) -> str:
    """A one-line text (an embed title) as Discord Markdown that displays exactly that text."""
    return escape_line_start(escape(text))


def render_line(line: Line) -> str:
    """One line as Discord Markdown (a quote keeps its `> `); line-start syntax escaped."""
    text = escape_line_start("".join(render_span(s) for s in line.spans))
    return ("> " + text) if line.quote else text


_WORD = re.compile(r"\S+\s*|\s+")


def split_first(line: Line, limit: int) -> tuple[Line, Line | None]:
    """The longest head of `line` (cut at a word break) whose rendering fits `limit`, and the
    rest. Sizes are summed word by word, which over-counts markers: the head always fits."""
    budget = limit - (2 if line.quote else 0) - 2  # the quote prefix and a line-start escape
    head: list[Span] = []
    used = 0
    for i, span in enumerate(line.spans):
        wrap = len(render_span(Span("x", span.bold, span.italic, span.url))) - 1
        cut = None
        size = wrap
        for m in _WORD.finditer(span.text):
            width = len(escape(m.group()))
            if used + size + width > budget:
                cut = m.start()
                break
            size += width
        if cut is None:
            head.append(span)
            used += size
            continue
        if cut == 0 and not head:  # one giant word: a hard cut (an escaped character is <= 2)
            cut = max(1, (budget - wrap) // 2)
        if cut > 0:
            head.append(Span(span.text[:cut], span.bold, span.italic, span.url))
        rest = (Span(span.text[cut:], span.bold, span.italic, span.url), *line.spans[i + 1 :])
        return Line(tuple(head), line.quote), Line(rest, line.quote)
    return line, None


MIN_CAP = 600  # the smallest piece asked for: a link (URL <= 500) always fits


class Chunker:
    """Hands out the rendered body piece by piece, each within the size asked for."""

    def __init__(self, body: str) -> None:
        self._lines = parse(body)
        while self._lines and self._lines[0].blank:
            self._lines.pop(0)

    @property
    def empty(self) -> bool:
        return all(line.blank for line in self._lines)

    def take(self, cap: int) -> str:
        """The next piece of at most `cap` (>= MIN_CAP) characters, whole lines when possible."""
        out: list[str] = []
        size = 0
        while self._lines:
            line = self._lines[0]
            room = cap - size - (1 if out else 0)
            raw = sum(len(s.text) for s in line.spans) + (2 if line.quote else 0)
            # rendering only adds characters: a line whose raw text is too long cannot fit
            text = "" if line.blank else render_line(line) if raw <= room else None
            if text is not None and len(text) <= room:
                out.append(text)
                size += len(text) + (1 if len(out) > 1 else 0)
                self._lines.pop(0)
                continue
            if out and room < MIN_CAP:
                break  # start the next piece with this line
            head, rest = split_first(line, room)
            if not head.spans:
                if out:
                    break
                raise ValueError("a line cannot be cut to fit")  # unreachable: cap >= MIN_CAP
            self._lines[0:1] = [head, rest] if rest is not None else [head]
        while self._lines and self._lines[0].blank:
            self._lines.pop(0)
        return "\n".join(out).strip()
