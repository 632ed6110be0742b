"""The one reading of an update body: CommonMark restricted to our subset, as a small tree.

The subset (README "Updates"): paragraphs, `**bold**`/`__bold__`, `*italic*`/`_italic_`, links
`[label](https://…)` whose label may be styled, and `> ` quotes. markdown-it-py parses a body
once, as CommonMark reads it, into a platform-neutral tree that every adapter only renders, so
the platforms cannot disagree about what the editor wrote. Beyond CommonMark itself:

- Every other construct (headings, lists, code, HTML, images, tables, `<autolinks>`, setext
  underlines, rules, entities) is switched off and shows as typed; so does a whole image
  `![alt](url)`. Backslash escapes work (`\\*` is a star); `&amp;` stays five characters;
  leading spaces of a line go, as in any CommonMark paragraph.
- A bare `http(s)://` URL is one verbatim run (`BareUrl`) that emphasis never splits: it stops
  at whitespace, `<>*\\[]`, drops trailing `.,:;!?"'_~` and an unmatched `)`, as GFM does.
  Platforms link it.
- A link target is canonical and accepted everywhere (`relay.links.canonical_url`). Any other
  target (`javascript:`, `mailto:`, relative, empty) is no link, and CommonMark's reading of
  the text stands; so for a label whose brackets Discord could not pair, and for links with
  nothing visible in their label.
- Nested quotes are flattened into their outer quote (no platform nests them); markers past
  `MAX_QUOTE_DEPTH` are dropped before parsing, so markdown-it's nesting limit never cuts text.
- Soft and hard line breaks are both `LineBreak`: chat text keeps the editor's lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.rules_inline import image, link
from markdown_it.rules_inline.state_inline import StateInline
from markdown_it.token import Token

from relay.links import canonical_url

MAX_QUOTE_DEPTH = 8


@dataclass(frozen=True)
class Text:
    """Editor text, shown as is."""

    text: str


@dataclass(frozen=True)
class BareUrl:
    """A URL typed as text: shown verbatim, never split by emphasis."""

    url: str


@dataclass(frozen=True)
class LineBreak:
    """A line break inside a paragraph."""


@dataclass(frozen=True)
class Bold:
    children: tuple[Inline, ...]


@dataclass(frozen=True)
class Italic:
    children: tuple[Inline, ...]


@dataclass(frozen=True)
class Link:
    """A link with a canonical http(s) target (see the module docstring)."""

    url: str
    children: tuple[Inline, ...]


Inline = Text | BareUrl | LineBreak | Bold | Italic | Link


@dataclass(frozen=True)
class Paragraph:
    inlines: tuple[Inline, ...]


@dataclass(frozen=True)
class Quote:
    paragraphs: tuple[Paragraph, ...]


Block = Paragraph | Quote


@dataclass(frozen=True)
class Document:
    """A body as blocks; empty when the body shows nothing."""

    blocks: tuple[Block, ...]


class _Reader(MarkdownIt):
    """markdown-it with our link targets: only what `canonical_url` accepts is a link."""

    def normalizeLink(self, url: str) -> str:
        return canonical_url(url) or ""

    def validateLink(self, url: str) -> bool:
        return bool(url)


# --- the extra inline rules -----------------------------------------------------------------

_SCHEME = re.compile(r"(?:^|[^A-Za-z0-9.+-])([A-Za-z][A-Za-z0-9.+-]*)$")
_URL_REST = re.compile(r"//[^\s<>*\\\[\]\x00-\x1f\x7f]+")
_TRAILING = ".,:;!?\"'_~"  # as GFM's autolink: trailing punctuation is not part of it
_ESCAPABLE = re.compile(r"\\([!-/:-@\[-`{-~])")
# A label Discord's link syntax reads as one: brackets paired, a `]` only before the end.
_BRACKET = re.compile(r"[\[\]]")
_LABEL = re.compile(r"(?:\[[^\]]*\]|[^\[\]]|\](?=[^\[]*$))*", re.DOTALL)


def _bare_url(state: StateInline, silent: bool) -> bool:
    """`http://…` / `https://…` typed as text: one verbatim token (emphasis cannot split it).

    Runs at the `:`, as markdown-it's linkify does, with the scheme already in `pending`.
    Only lower-case schemes: those are what Discord links by itself.
    """
    if state.linkLevel > 0 or state.src[state.pos] != ":":
        return False
    scheme = _SCHEME.search(state.pending[-16:]) if not silent else None
    if scheme is None or scheme.group(1) not in ("http", "https"):
        return False
    rest = _URL_REST.match(state.src, state.pos + 1, state.posMax)
    if rest is None:
        return False
    url = rest.group()
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    if len(url) < 4 or not url[2].isalnum():  # "//" and at least two characters, as Discord
        return False
    name = scheme.group(1)
    state.pending = state.pending[: -len(name)]
    token = state.push("bare_url", "", 0)
    token.content = f"{name}:{url}"
    state.pos += 1 + len(url)
    return True


def _image_as_text(state: StateInline, silent: bool) -> bool:
    """`![alt](url)` is not in the subset: the whole construct stays literal text."""
    start = state.pos
    if not state.src.startswith("![", start) or not image(state, True):
        state.pos = start
        return False
    if not silent:
        state.append_pending(state.src[start : state.pos])
    return True


def _paired_link(state: StateInline, silent: bool) -> bool:
    """CommonMark's link rule, refusing a label whose brackets Discord could not carry."""
    start = state.pos
    if state.src[start] != "[":
        return False
    bracket = _BRACKET.search(state.src, start + 1, state.posMax)
    if bracket is not None and bracket.group() == "[":  # (else the label has no brackets)
        end = state.md.helpers.parseLinkLabel(state, start, True)
        state.pos = start
        label = _ESCAPABLE.sub(r"\1", state.src[start + 1 : end])
        if end >= 0 and _LABEL.fullmatch(label) is None:
            return False
    count, pending = len(state.tokens), state.pending
    if not link(state, silent):
        return False
    opened = next((t for t in state.tokens[count:] if t.type == "link_open"), None)
    if opened is None or opened.attrGet("href"):
        return True
    # `[x]()`: an empty target is no http(s) link either; undo, the text stands as CommonMark
    # reads it (the tokens and their delimiter lists go; `pending` is what it was)
    del state.tokens[count:], state.tokens_meta[count:]
    state.pending, state.pos = pending, start
    return False


_QUOTE_MARKERS = re.compile(
    rf"^((?:[ ]{{0,3}}>[ ]?){{{MAX_QUOTE_DEPTH}}})(?:[ ]{{0,3}}>[ ]?)+", re.MULTILINE
)


def _reader() -> MarkdownIt:
    md = _Reader("zero", {"maxNesting": 20})
    md.enable(["blockquote", "newline", "escape", "emphasis", "link"])
    md.inline.ruler.at("link", _paired_link)
    md.inline.ruler.before("link", "image_as_text", _image_as_text)
    md.inline.ruler.after("text", "bare_url", _bare_url)
    return md


_MD = _reader()


# --- tokens to tree -------------------------------------------------------------------------


_STYLES: dict[str, type[Bold] | type[Italic]] = {"strong_open": Bold, "em_open": Italic}


def _inlines(tokens: Sequence[Token]) -> tuple[Inline, ...]:
    """The tree of one paragraph's inline tokens."""
    stack: list[tuple[str, str, list[Inline]]] = [("", "", [])]
    for token in tokens:
        kind = token.type
        if kind in ("text", "text_special") and token.content:
            stack[-1][2].append(Text(token.content))
        elif kind == "bare_url":
            stack[-1][2].append(BareUrl(token.content))
        elif kind in ("softbreak", "hardbreak"):
            stack[-1][2].append(LineBreak())
        elif kind in ("strong_open", "em_open", "link_open"):
            stack.append((kind, str(token.attrGet("href") or ""), []))
        elif kind in ("strong_close", "em_close", "link_close"):
            opened, href, items = stack.pop()
            children = tuple(items)
            style = _STYLES.get(opened)
            stack[-1][2].append(style(children) if style else Link(href, children))
    return _tidy(stack[0][2])


def _visible(inlines: Iterable[Inline]) -> str:
    return "".join(_text_of(i) for i in inlines)


def _tidy(items: Iterable[Inline], bold: bool = False, italic: bool = False) -> tuple[Inline, ...]:
    """Merge what reads the same (bold in bold, adjacent texts, adjacent same styles) and unwrap
    styles and links around nothing visible."""
    out: list[Inline] = []
    for item in items:
        if isinstance(item, Bold | Italic | Link):
            inner_bold = bold or isinstance(item, Bold)
            inner_italic = italic or isinstance(item, Italic)
            children = _tidy(item.children, inner_bold, inner_italic)
            redundant = (isinstance(item, Bold) and bold) or (isinstance(item, Italic) and italic)
            if redundant or not _visible(children).strip():
                for child in children:
                    _append(out, child, bold, italic)
                continue
            item = Link(item.url, children) if isinstance(item, Link) else type(item)(children)
        _append(out, item, bold, italic)
    return tuple(out)


def _append(out: list[Inline], item: Inline, bold: bool, italic: bool) -> None:
    last = out[-1] if out else None
    if isinstance(item, Text) and isinstance(last, Text):
        out[-1] = Text(last.text + item.text)
    elif (
        isinstance(item, Bold | Italic)
        and isinstance(last, Bold | Italic)
        and (type(last) is type(item))
    ):
        out.pop()
        out.extend(_tidy([type(item)(last.children + item.children)], bold, italic))
    else:
        out.append(item)


@lru_cache(maxsize=1024)
def parse(body: str) -> Document:
    """The body's tree. Cached: each adapter and each destination renders the same body."""
    tokens = _MD.parse(_QUOTE_MARKERS.sub(r"\1", body))
    blocks: list[Block] = []
    quoted: list[Paragraph] | None = None
    depth = 0
    for token in tokens:
        if token.type == "blockquote_open":
            depth += 1
            quoted = [] if depth == 1 else quoted
        elif token.type == "blockquote_close":
            depth -= 1
            if depth == 0 and quoted:
                blocks.append(Quote(tuple(quoted)))
        elif token.type == "inline":
            paragraph = Paragraph(_inlines(token.children or []))
            if not _visible(paragraph.inlines).strip():
                continue  # e.g. a link with an empty label
            if depth and quoted is not None:
                quoted.append(paragraph)
            else:
                blocks.append(paragraph)
    return Document(tuple(blocks))


# --- reading the tree -----------------------------------------------------------------------


def _text_of(item: Inline) -> str:
    if isinstance(item, Text):
        return item.text
    if isinstance(item, BareUrl):
        return item.url
    if isinstance(item, LineBreak):
        return "\n"
    return _visible(item.children)


def _annotated(item: Inline) -> str:
    if isinstance(item, Link):
        label = _visible(item.children)
        return label if label == item.url else f"{label} ({item.url})"
    if isinstance(item, Bold | Italic):
        return "".join(_annotated(i) for i in item.children)
    return _text_of(item)


def paragraphs(doc: Document) -> Iterator[tuple[Paragraph, bool]]:
    """Every paragraph in order, with whether it is quoted."""
    for block in doc.blocks:
        if isinstance(block, Quote):
            for paragraph in block.paragraphs:
                yield paragraph, True
        else:
            yield block, False


def plain_text(doc: Document, *, annotate: bool = False) -> str:
    """The text a reader sees, paragraphs separated by blank lines.

    With `annotate` (the console and memory adapters), quoted lines start with "> " and a
    link's target follows its label in parentheses, so nothing the editor wrote is hidden.
    """
    show = _annotated if annotate else _text_of
    out = []
    for paragraph, quoted in paragraphs(doc):
        text = "".join(show(i) for i in paragraph.inlines)
        if quoted and annotate:
            text = "\n".join("> " + line for line in text.split("\n"))
        out.append(text)
    return "\n\n".join(out)


_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def literal(text: str) -> str:
    """Markup that reads back as exactly `text`, nothing live: for text that is never Markdown
    (a headline) placed in a body. CommonMark reads `\\x` as a plain x for every ASCII
    punctuation character x, so escaping all of them leaves no emphasis, link, quote or URL."""
    return _PUNCTUATION.sub(r"\\\1", text)
