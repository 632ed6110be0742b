"""A Telegram message's text and formatting (its entities) as a body in our Markdown subset.

An editor formats a `/post` in the app; the bot receives plain text plus entities, whose
offsets count UTF-16 code units. The body is written so that `relay.markup` reads back the
text the editor saw, with the styles the subset has: `bold`, `italic`, `text_link` and `url`
(links), `blockquote` (a quote of whole lines). Underline, strikethrough, spoiler, code and the
rest show as plain text. Markdown characters in the text are escaped, so nothing the editor
typed turns into markup; a URL typed as text stays one (the platforms link it, as Telegram
did for the editor). As CommonMark reads any body, a line loses its leading and trailing
spaces and blank lines separate paragraphs.

CommonMark cannot express every emphasis boundary (`**"a"**b`): a style's edges are trimmed to
its first and last letter (never whitespace or punctuation, which look the same either way),
and each paragraph is checked by parsing it; if a style still reads differently, the paragraph
drops italic, then bold, then links, rather than show a stray `*`. Every entity that starts
and ends on word boundaries reads back exactly.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from telegram import MessageEntity

from relay import markup
from relay.links import canonical_url

QUOTES = ("blockquote", "expandable_blockquote")
_SPECIAL = frozenset("\\*_[]")
_WEB = re.compile(r"https?://")


@dataclass(frozen=True)
class Mark:
    """How one character shows: its styles, its link (canonical), and whether the link is a
    URL typed as text (written bare, as the editor saw it)."""

    bold: bool = False
    italic: bool = False
    link: str | None = None
    bare: bool = False


def _word(ch: str) -> bool:
    """A character emphasis may start or end at anywhere: no space, no punctuation or symbol
    (CommonMark's flanking rules, as markdown-it applies them)."""
    return not ch.isspace() and not unicodedata.category(ch).startswith(("P", "S"))


def _styled(mark: Mark, style: str, on: bool) -> Mark:
    return replace(mark, bold=on) if style == "bold" else replace(mark, italic=on)


def _utf16_index(text: str) -> list[int]:
    """For each character, the UTF-16 offset where it starts, and the total at the end."""
    out, at = [], 0
    for ch in text:
        out.append(at)
        at += 2 if ord(ch) > 0xFFFF else 1
    out.append(at)
    return out


def marks(text: str, entities: Iterable[MessageEntity]) -> tuple[list[Mark], list[bool]]:
    """Each character's `Mark`, and whether it is quoted."""
    starts = _utf16_index(text)
    shown = [Mark()] * len(text)
    quoted = [False] * len(text)
    for entity in sorted(entities, key=lambda e: (e.offset, -e.length)):
        first = bisect.bisect_left(starts, entity.offset)
        end = bisect.bisect_left(starts, entity.offset + entity.length)
        span = range(first, min(end, len(text)))
        kind = str(entity.type)
        if kind in QUOTES:
            for i in span:
                quoted[i] = True
        elif kind in ("bold", "italic"):
            for i in span:
                shown[i] = _styled(shown[i], kind, True)
        elif kind in ("text_link", "url"):
            typed = text[span.start : span.stop]
            if kind == "url":
                target = canonical_url(typed if _WEB.match(typed) else "http://" + typed)
            else:
                target = canonical_url(entity.url or "")
            if target is None or not typed.strip():
                continue
            bare = kind == "url" and _WEB.match(typed) is not None
            for i in span:
                shown[i] = replace(shown[i], link=target, bare=bare)
    return shown, quoted


def body_markdown(text: str, entities: Sequence[MessageEntity], start: int = 0) -> str:
    """`text[start:]` (Python indices) as a body in our Markdown subset."""
    shown, quoted = marks(text, entities)
    lines: list[tuple[bool, str, list[Mark]]] = []  # (quoted, line, marks); "" is a blank line
    at = start
    for raw in text[start:].split("\n"):
        left = len(raw) - len(raw.lstrip())
        line = raw.strip()
        span = range(at + left, at + left + len(line))
        lines.append((any(quoted[i] for i in span), line, [shown[i] for i in span]))
        at += len(raw) + 1
    blocks: list[str] = []
    index = 0
    while index < len(lines):
        if not lines[index][1]:
            index += 1
            continue
        quote = lines[index][0]
        paragraphs: list[str] = []
        chars: list[str] = []
        paragraph_marks: list[Mark] = []
        while index < len(lines) and (not lines[index][1] or lines[index][0] == quote):
            _, line, line_marks = lines[index]
            if not line:
                if chars:
                    paragraphs.append(paragraph("".join(chars), paragraph_marks))
                chars, paragraph_marks = [], []
            else:
                if chars:
                    chars.append("\n")
                    paragraph_marks.append(Mark())
                chars.append(line)
                paragraph_marks.extend(line_marks)
            index += 1
        if chars:
            paragraphs.append(paragraph("".join(chars), paragraph_marks))
        if quote:
            quoted_lines = "\n>\n".join(paragraphs).split("\n")
            blocks.append("\n".join(">" if q == ">" else "> " + q for q in quoted_lines))
        else:
            blocks.extend(paragraphs)
    return "\n\n".join(blocks)


# --- one paragraph --------------------------------------------------------------------------


def _trimmed(text: str, shown: list[Mark]) -> list[Mark]:
    """Styles trimmed to start and end on a word character within each stretch of one link."""
    out = list(shown)
    for style in ("bold", "italic"):
        i = 0
        while i < len(out):
            if not getattr(out[i], style):
                i += 1
                continue
            j = i
            while j < len(out) and getattr(out[j], style) and out[j].link == out[i].link:
                j += 1
            first, last = i, j - 1
            while first <= last and not _word(text[first]):
                first += 1
            while last >= first and not _word(text[last]):
                last -= 1
            for k in range(i, j):
                if not first <= k <= last:
                    out[k] = _styled(out[k], style, False)
            i = j
    return out


def _escape(text: str, i: int) -> str:
    ch = text[i]
    line_start = i == 0 or text[i - 1] == "\n"
    return "\\" + ch if ch in _SPECIAL or (ch == ">" and line_start) else ch


def _destination(url: str) -> str:
    return re.sub(r"[()\\]", lambda m: "\\" + m.group(), url)


def _run_end(shown: list[Mark], i: int, style: str) -> int:
    """Where the run of `style` at `i` ends (the link stays the same within it)."""
    j = i
    while j < len(shown) and getattr(shown[j], style) and shown[j].link == shown[i].link:
        j += 1
    return j


def write(text: str, shown: list[Mark]) -> tuple[str, list[Mark]]:
    """The paragraph `text` with `shown` as Markdown (unchecked), and the marks it carries.

    Emphasis opens only before a word character, so a style closed early (two styles that
    overlap cannot nest) reopens at the next word, where CommonMark lets it; the spaces and
    punctuation in between lose it (they look the same).
    """
    out: list[str] = []
    carried: list[Mark] = []
    stack: list[str] = []  # open emphasis, innermost last: "bold" / "italic"
    link: tuple[str | None, bool] = (None, False)
    delimiter = {"bold": "**", "italic": "*"}

    def close_to(depth: int) -> None:
        while len(stack) > depth:
            out.append(delimiter[stack.pop()])

    for i, mark in enumerate([*shown, Mark()]):
        if (mark.link, mark.bare) != link:
            close_to(0)
            if link[0] is not None and not link[1]:
                out.append(f"]({_destination(link[0])})")
            link = (mark.link, mark.bare)
            if link[0] is not None and not link[1]:
                out.append("[")
        wanted = [s for s in ("bold", "italic") if getattr(mark, s)]
        keep = 0
        while keep < len(stack) and stack[keep] in wanted:
            keep += 1
        close_to(keep)
        if i == len(text):
            break
        if _word(text[i]):  # the style that lasts longer opens first, outside: `***a** b*`
            for style in sorted(wanted, key=lambda s: -_run_end(shown, i, s)):
                if style not in stack:
                    stack.append(style)
                    out.append(delimiter[style])
        out.append(text[i] if mark.bare else _escape(text, i))
        carried.append(Mark("bold" in stack, "italic" in stack, mark.link, mark.bare))
    return "".join(out), carried


def _read(md: str) -> tuple[str, list[Mark]] | None:
    """What `relay.markup` shows for one paragraph of Markdown; None if it is not one."""
    doc = markup.parse(md)
    if len(doc.blocks) != 1 or not isinstance(doc.blocks[0], markup.Paragraph):
        return None
    chars: list[str] = []
    shown: list[Mark] = []

    def walk(items: Iterable[markup.Inline], mark: Mark) -> None:
        for item in items:
            if isinstance(item, markup.Text | markup.BareUrl):
                bare = isinstance(item, markup.BareUrl)
                typed = item.text if isinstance(item, markup.Text) else item.url
                here = replace(mark, link=canonical_url(typed), bare=True) if bare else mark
                chars.append(typed)
                shown.extend([here] * len(typed))
            elif isinstance(item, markup.LineBreak):
                chars.append("\n")
                shown.append(Mark())
            elif isinstance(item, markup.Bold):
                walk(item.children, replace(mark, bold=True))
            elif isinstance(item, markup.Italic):
                walk(item.children, replace(mark, italic=True))
            else:
                walk(item.children, replace(mark, link=item.url, bare=False))

    walk(doc.blocks[0].inlines, Mark())
    return "".join(chars), shown


def _same(read: Mark, carried: Mark) -> bool:
    """Whether a character reads back as written; a URL typed as text may read as a bare link
    (the editor saw it linked too: Telegram links it, as Discord does)."""
    return read == carried or (read.bare and carried.link is None
                               and replace(read, link=None, bare=False) == carried)  # fmt: skip


def _plainer(shown: list[Mark], level: int) -> list[Mark]:
    """The marks with less kept: 1 links written out, 2 no italic, 3 no bold, 4 no links."""

    def less(m: Mark) -> Mark:
        link = m.link if level < 4 else None
        return Mark(m.bold and level < 3, m.italic and level < 2, link, m.bare and level < 1)

    return [less(m) for m in shown]


def paragraph(text: str, shown: list[Mark]) -> str:
    """One paragraph as Markdown that reads back as `text` with as many of its marks as fit."""
    newline = Mark()
    shown = [newline if ch == "\n" else m for ch, m in zip(text, shown, strict=True)]
    for level in range(5):
        md, carried = write(text, _trimmed(text, _plainer(shown, level)))
        read = _read(md)
        if read is not None and read[0] == text and all(map(_same, read[1], carried)):
            return md
    return write(text, _plainer(shown, 4))[0]
