"""The body's tree (`relay.markup`) as Discord Markdown, with every editor character escaped.

Editor text is escaped so it shows as typed: Markdown characters get a backslash, `<` too so
`<@id>`, `<@&id>`, `<#id>` and `<t:…>` never become mentions or timestamps, `@everyone` /
`@here` get a zero-width space so they read the same but can never ping, a `](` never closes a
link label, and the `:` of an `http(s)://` that is not a bare URL (in a label, in an image
written as text) is escaped so Discord does not link it. Bold is `**…**`, italic `*…*` (a `_`
would need a word boundary after it); a zero-width space separates two styles that would
otherwise touch (`*a*` then `**b**`). A bare URL is written as typed, so Discord links it; when
a character Discord would swallow into the link follows it directly, it goes in `<…>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from relay import markup, pieces

ZWSP = "\u200b"
_SPECIAL = re.compile(r"([\\*_~`|\[\]<])")
_EVERYONE = re.compile(r"@(everyone|here)", re.IGNORECASE)
# RFC 3986 characters without `*` and brackets: Markdown markers after a URL stay markers
_URL = re.compile(r"(?<![0-9A-Za-z])https?://[A-Za-z0-9\-._~:/?#@!$&'()+,;=%]+")
_LINE_START = re.compile(r"^(\s*)([-+>#])")
_NUMBERED = re.compile(r"^(\s*\d+)\.(\s)")


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


def escape_line_start(text: str) -> str:
    """Escape what a line start would turn into a header, list or quote ("# ", "- ", "> ",
    "1. ", "-# ")."""
    return _NUMBERED.sub(r"\1\\.\2", _LINE_START.sub(r"\1\\\2", text))


def escape_headline(text: str) -> str:
    """A one-line text (an embed title) as Discord Markdown that displays exactly that text."""
    return escape_line_start(escape(text))


@dataclass(frozen=True)
class Span:
    """A run of editor text with its styles; `bare` marks a bare URL (written as typed)."""

    text: str
    bold: bool = False
    italic: bool = False
    url: str | None = None
    bare: bool = False


@dataclass(frozen=True)
class Line:
    """One output line: a quote or not, and its spans; blank lines separate paragraphs."""

    spans: tuple[Span, ...]
    quote: bool = False

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.spans)

    @property
    def blank(self) -> bool:
        return not self.quote and not self.text.strip()


def parse(body: str) -> list[Line]:
    """The body as lines of spans, read by `relay.markup`; a blank line between paragraphs."""
    lines: list[Line] = []
    for paragraph, quoted in markup.paragraphs(markup.parse(body)):
        if lines:
            lines.append(Line(()))
        current: list[Span] = []
        for span in _spans(paragraph.inlines):
            if span is None:
                lines.append(Line(tuple(current), quoted))
                current = []
            else:
                current.append(span)
        lines.append(Line(tuple(current), quoted))
    return lines


def _spans(
    items: Iterable[markup.Inline], bold: bool = False, italic: bool = False, url: str | None = None
) -> list[Span | None]:
    """Spans of a paragraph's inlines; None where a line breaks."""
    out: list[Span | None] = []
    for item in items:
        if isinstance(item, markup.Text):
            out.append(Span(item.text, bold, italic, url))
        elif isinstance(item, markup.BareUrl):
            out.append(Span(item.url, bold, italic, url, bare=True))
        elif isinstance(item, markup.LineBreak):
            out.append(None)
        elif isinstance(item, markup.Bold):
            out.extend(_spans(item.children, True, italic, url))
        elif isinstance(item, markup.Italic):
            out.extend(_spans(item.children, bold, True, url))
        else:
            out.extend(_spans(item.children, bold, italic, item.url))
    return out


_SCHEME_COLON = re.compile(r"(https?):(?=//)", re.IGNORECASE)

Style = str  # "b", "i", or "a" + the link target


def _styles(span: Span) -> frozenset[Style]:
    return _style_set(span.bold, span.italic, span.url)


@lru_cache(maxsize=256)
def _style_set(bold: bool, italic: bool, url: str | None) -> frozenset[Style]:
    on = ("b",) * bold + ("i",) * italic + (("a" + url,) if url is not None else ())
    return frozenset(on)


def _run(spans: tuple[Span, ...], start: int, style: Style) -> int:
    end = start
    while end < len(spans) and style in _styles(spans[end]):
        end += 1
    return end - start


@lru_cache(maxsize=4096)  # a long body is rendered again for each cut the splitter tries
def _escape_text(text: str) -> str:
    out = _SPECIAL.sub(r"\\\1", text).replace("\\](", "\\]\\(")
    return _no_ping(_SCHEME_COLON.sub(r"\1\\:", out))


def _bare(url: str, follow: str) -> str:
    """A bare URL, as typed unless what follows it directly (Discord takes everything up to a
    space into the link) would not read the same inside it: then in `<…>`."""
    word = follow.split(maxsplit=1)[0] if follow and not follow[0].isspace() else ""
    return _no_ping(url) if _escape_text(word) == word else f"<{_no_ping(url)}>"


def _wrap(style: Style, inner: str) -> tuple[str, bool]:
    """`inner` styled; whitespace stays outside the markers. True if the result starts and
    ends with a `*` marker."""
    core = inner.strip()
    if not core:
        return inner, False
    if style.startswith("a"):
        return f"[{inner}]({style[1:]})", False
    lead, trail = inner[: len(inner) - len(inner.lstrip())], inner[len(inner.rstrip()) :]
    mark = "**" if style == "b" else "*"
    return f"{lead}{mark}{core}{mark}{trail}", not lead and not trail


def _follow(spans: tuple[Span, ...], i: int, active: frozenset[Style]) -> str:
    """What is written after spans[:i] up to a space: text, with "*" for an opening marker."""
    out = ""
    for span in spans[i:]:
        if span.text[:1].isspace():
            break
        if _styles(span) - active or span.bare:
            return out + "*"
        out += span.text
        if any(c.isspace() for c in span.text):
            break
    return out


def _render(spans: tuple[Span, ...], active: frozenset[Style]) -> str:
    """Spans as Markdown, the style that lasts longest opened first (so markers nest)."""
    out: list[str] = []
    starred = False  # the last piece ends with a `*` marker
    i = 0
    while i < len(spans):
        styles = _styles(spans[i]) - active
        if not styles:
            if spans[i].bare:
                out.append(_bare(spans[i].text, _follow(spans, i + 1, active)))
            else:
                out.append(_escape_text(spans[i].text))
            starred, i = False, i + 1
            continue
        style = max(styles, key=lambda s: (_run(spans, i, s), -"bia".index(s[0])))
        end = i + _run(spans, i, style)
        piece, wrapped = _wrap(style, _render(spans[i:end], active | {style}))
        if starred and piece.startswith("*"):
            out.append(ZWSP)  # `*a***b**` would read as one run; `*a*` ZWSP `**b**` does not
        out.append(piece)
        starred, i = wrapped, end
    return "".join(out)


def render_line(line: Line) -> str:
    """One line as Discord Markdown (a quote keeps its `> `); line-start syntax escaped."""
    text = escape_line_start(_render(line.spans, frozenset()))
    return ("> " + text) if line.quote else text


def _cut(spans: tuple[Span, ...], at: int) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Spans split at character offset `at`; a bare URL cut in two is no URL any more."""
    return pieces.cut(spans, at, lambda span, text: replace(span, text=text, bare=False))


def _strip(spans: tuple[Span, ...]) -> tuple[Span, ...]:
    """Spans without leading and trailing whitespace (at a cut)."""
    return pieces.strip([s for s in spans if s.text])


_SPACE = re.compile(r"\s+")


def split_line(line: Line, room: int) -> tuple[Line, Line] | None:
    """The longest head of `line` whose rendering fits `room` (cut at a word break when there
    is one) and the rest; None if not even one character fits."""

    def head(end: int) -> Line:
        return Line(_strip(_cut(line.spans, end)[0]), line.quote)

    def fits(end: int) -> bool:
        return len(render_line(head(end))) <= room

    if not fits(1):
        return None
    low, high = 1, len(line.text)  # the largest end that fits, by bisection
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    start = resume = low
    for match in _SPACE.finditer(line.text, 1, low + 1):
        start, resume = match.span()
    first = head(start)
    if not first.spans or not fits(start):  # only whitespace before the break: cut characters
        start = resume = low
        first = head(low)
    rest = Line(_strip(_cut(line.spans, resume)[1]), line.quote)
    return first, rest


MIN_CAP = 600  # below this much room, a new piece starts rather than a line being cut


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
        """The next piece of at most `cap` characters, whole lines when possible; "" when not
        even the start of the next line fits (a link with a long target needs its room)."""
        out: list[str] = []
        size = 0
        while self._lines:
            line = self._lines[0]
            room = cap - size - (1 if out else 0)
            # rendering only adds characters: a line whose raw text is too long cannot fit
            text = "" if line.blank else render_line(line) if len(line.text) <= room else None
            if text is not None and len(text) <= room:
                out.append(text)
                size += len(text) + (1 if len(out) > 1 else 0)
                self._lines.pop(0)
                continue
            if out and room < MIN_CAP:
                break  # start the next piece with this line
            cut = split_line(line, room)
            if cut is None:
                break
            self._lines[0:1] = [cut[0], cut[1]] if cut[1].spans else [cut[0]]
        while self._lines and self._lines[0].blank:
            self._lines.pop(0)
        return "\n".join(out).strip()
