"""A /post formatted in the Telegram app keeps its formatting (issue 12, item 9).

The bot receives plain text and entities (UTF-16 offsets); `relay.adapters.telegram.entities`
writes them as the body's Markdown, which `relay.markup` must read back as the text the editor
saw with the same styled spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox
from telegram import MessageEntity

from relay import markup
from relay.adapters.telegram.entities import body_markdown
from relay.links import canonical_url
from relay.model import Destination
from tests.adapters.telegram.conftest import wait_for
from tests.adapters.telegram.desk import Desk

URLS = ["https://news.example/a", "https://пример.рф/Киев?q=(1)", "javascript:alert(1)",
        "http://x.org/a_b*c", "tg://user?id=1"]  # fmt: skip
STYLES = ["bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre",
          "text_link", "url", "blockquote", "mention", "custom_emoji"]  # fmt: skip


@dataclass(frozen=True)
class Shown:
    ch: str
    bold: bool = False
    italic: bool = False
    link: str | None = None
    bare: bool = False  # a URL typed as text, which Telegram and Discord link by themselves


def u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entity(text: str, kind: str, first: int, end: int, url: str | None = None) -> MessageEntity:
    """An entity over the characters `first:end` of `text`, with UTF-16 offsets."""
    return MessageEntity(kind, u16(text[:first]), u16(text[first:end]), url=url)


def editor_view(text: str, entities: list[MessageEntity]) -> list[list[Shown]]:
    """The non-blank lines the editor saw, each character with the styles the subset has."""
    chars = [Shown(ch) for ch in text]
    starts = [u16(text[:i]) for i in range(len(text) + 1)]
    for e in entities:
        span = [i for i in range(len(text)) if e.offset <= starts[i] < e.offset + e.length]
        typed = "".join(text[i] for i in span)
        for i in span:
            c = chars[i]
            if e.type == "bold":
                chars[i] = Shown(c.ch, True, c.italic, c.link)
            elif e.type == "italic":
                chars[i] = Shown(c.ch, c.bold, True, c.link)
            elif e.type == "text_link" and canonical_url(e.url or ""):
                chars[i] = Shown(c.ch, c.bold, c.italic, canonical_url(e.url or ""))
            elif e.type == "url":
                target = canonical_url(typed if typed.startswith("http") else "http://" + typed)
                chars[i] = Shown(c.ch, c.bold, c.italic, target or c.link)
    return _lines(chars)


def _lines(chars: list[Shown]) -> list[list[Shown]]:
    lines: list[list[Shown]] = [[]]
    for c in chars:
        if c.ch == "\n":
            lines.append([])
        else:
            lines[-1].append(c)
    out = []
    for line in lines:
        while line and line[0].ch.isspace():
            line.pop(0)
        while line and line[-1].ch.isspace():
            line.pop()
        if line:
            out.append(line)
    return out


def reader_view(body: str) -> list[list[Shown]]:
    """The non-blank lines `relay.markup` shows for `body`, with their styles."""
    chars: list[Shown] = []

    def walk(items: tuple[markup.Inline, ...], b: bool, i: bool, link: str | None) -> None:
        for item in items:
            if isinstance(item, markup.Text):
                chars.extend(Shown(ch, b, i, link) for ch in item.text)
            elif isinstance(item, markup.BareUrl):
                chars.extend(Shown(ch, b, i, canonical_url(item.url), True) for ch in item.url)
            elif isinstance(item, markup.LineBreak):
                chars.append(Shown("\n"))
            elif isinstance(item, markup.Bold):
                walk(item.children, True, i, link)
            elif isinstance(item, markup.Italic):
                walk(item.children, b, True, link)
            else:
                walk(item.children, b, i, item.url)

    for paragraph, _quoted in markup.paragraphs(markup.parse(body)):
        walk(paragraph.inlines, False, False, None)
        chars.append(Shown("\n"))
    return _lines(chars)


ALPHABET = "ab z09 \n*_[]\\>:/#`!()<&~|,.\"'-жё😀\u00e9"


@st.composite
def formatted(draw: st.DrawFn) -> tuple[str, list[MessageEntity]]:
    text = draw(st.text(ALPHABET, max_size=60))
    entities, linked = [], set()
    for _ in range(draw(st.integers(0, 6))):
        first = draw(st.integers(0, len(text)))
        end = draw(st.integers(first, len(text)))
        kind = draw(st.sampled_from(STYLES))
        url = draw(st.sampled_from(URLS)) if kind == "text_link" else None
        if kind in ("text_link", "url"):
            if linked & set(range(first, end)):
                continue  # Telegram never nests a link in a link (an <a> in an <a>)
            linked |= set(range(first, end))
        entities.append(entity(text, kind, first, end, url))
    return text, entities


def same_text(text: str, entities: list[MessageEntity]) -> list[tuple[Any, Any]]:
    """Each character as the editor saw it beside the same character as readers see the body,
    after checking that the two read the same text."""
    saw, shows = editor_view(text, entities), reader_view(body_markdown(text, entities))
    assert [[c.ch for c in line] for line in shows] == [[c.ch for c in line] for line in saw]
    return [pair for a, b in zip(saw, shows, strict=True) for pair in zip(a, b, strict=True)]


@settings(max_examples=400, deadline=None)
@given(formatted())
def test_any_formatting_shows_the_same_text_and_never_a_style_the_editor_did_not_give(
    case: tuple[str, list[MessageEntity]],
) -> None:
    text, entities = case
    for given_, shown in same_text(text, entities):
        assert given_.bold or not shown.bold
        assert given_.italic or not shown.italic
        assert shown.link is None or shown.link == given_.link or shown.bare


WORDS = st.text("abcжé", min_size=1, max_size=5) | st.sampled_from(["a_b", "2*3", "x]", "😀"])


@st.composite
def word_aligned(draw: st.DrawFn) -> tuple[str, list[MessageEntity]]:
    """Text of words; each entity starts at a word's start and ends at a word's end."""
    words = draw(st.lists(WORDS, min_size=1, max_size=12))
    seps = [draw(st.sampled_from([" ", " ", "\n", ", "])) for _ in words[1:]]
    text, bounds = "", []
    for word, sep in zip(words, ["", *seps], strict=True):
        text += sep
        bounds.append((len(text), len(text) + len(word)))
        text += word
    entities, linked = [], set[int]()
    for _ in range(draw(st.integers(0, 5))):
        a = draw(st.integers(0, len(words) - 1))
        b = draw(st.integers(a, len(words) - 1))
        kind = draw(st.sampled_from(["bold", "italic", "text_link"]))
        if kind == "text_link":  # links never overlap in Telegram
            if linked & set(range(a, b + 1)):
                continue
            linked |= set(range(a, b + 1))
        url = "https://news.example/" + str(a) if kind == "text_link" else None
        entities.append(entity(text, kind, bounds[a][0], bounds[b][1], url))
    return text, entities


def _letter(ch: str) -> bool:
    return ch.isalnum()


@settings(max_examples=400, deadline=None)
@given(word_aligned())
def test_formatting_on_word_boundaries_reads_back_exactly(
    case: tuple[str, list[MessageEntity]],
) -> None:
    text, entities = case
    for given_, shown in same_text(text, entities):
        if _letter(given_.ch):  # a space or a comma looks the same bold or not
            assert shown == given_, (text, entities)


def test_utf16_offsets_quotes_and_links() -> None:
    text = "Head 😀\n😀 *Sirens* across [Kyiv].\nAs the mayor said\n\nRead https://x.org/a_b"
    entities = [
        entity(text, "bold", text.index("Sirens") - 1, text.index(" across")),
        entity(text, "text_link", text.index("Kyiv"), text.index("Kyiv") + 4, URLS[0]),
        entity(text, "blockquote", text.index("As"), text.index("said") + 4),
        entity(text, "url", text.index("https"), len(text)),
    ]
    body = body_markdown(text, entities, text.index("\n") + 1)
    assert body == (
        "😀 \\***Sirens**\\* across \\[[Kyiv](https://news.example/a)\\].\n\n"
        "> As the mayor said\n\nRead https://x.org/a_b"
    )


async def published(desk: Desk, editor: User) -> None:
    """Wait for the bot's confirmation of the editor's /post, then deliver the update."""
    await wait_for(desk.tg, editor.id, lambda shown: any(
        m.content.startswith("Published update") for m in shown), bot=desk.account)  # fmt: skip
    await desk.pipeline.drain()


async def test_a_post_formatted_in_the_app_keeps_its_formatting(
    desk: Desk, tg: TelegramSandbox, account: Bot, editor: User, reader: User
) -> None:
    await desk.pipeline.subs.subscribe(Destination("telegram", str(reader.id)), ["ukraine"])
    text = ("/post ukraine Kyiv *update*\n🇺🇦 Sirens in Kyiv_1, more *soon*.\n"
            "The mayor said\nLink: https://news.example/a")  # fmt: skip
    entities = [
        entity(text, "bot_command", 0, 5),
        entity(text, "bold", text.index("Sirens"), text.index("Sirens") + 6),
        entity(text, "text_link", text.index("Kyiv_1"), text.index("Kyiv_1") + 6, URLS[0]),
        entity(text, "italic", text.index("*soon*"), text.index("*soon*") + 6),
        entity(text, "blockquote", text.index("The mayor"), text.index("said") + 4),
        entity(text, "url", text.index("https"), len(text)),
    ]
    tg.control.send_message(editor.id, text, bot=account, entities=tuple(
        e.to_dict() for e in entities))  # fmt: skip
    await published(desk, editor)
    copy = tg.control.transcript(reader.id, bot=account)[-1]
    assert copy.text == (
        "Kyiv *update*\nBy Eda\n\n🇺🇦 Sirens in Kyiv_1, more *soon*.\n\nThe mayor said\n\n"
        "Read more\n\n#Ukraine"
    )
    assert "<b>Sirens</b>" in copy.html
    assert '<a href="https://news.example/a">Kyiv_1</a>' in copy.html
    assert "<i>soon</i>*" in copy.html  # the stars around it were typed: they stay
    assert "<blockquote>The mayor said</blockquote>" in copy.html
    assert 'href="https://news.example/a">Read more</a>' in copy.html  # the Link: line


async def test_a_photo_posts_caption_keeps_its_formatting(
    desk: Desk, tg: TelegramSandbox, account: Bot, editor: User, reader: User
) -> None:
    await desk.pipeline.subs.subscribe(Destination("telegram", str(reader.id)), ["ukraine"])
    caption = "/post ukraine Smoke\nSeen from the **river**"
    bold = entity(caption, "bold", caption.index("**river"), len(caption))
    tg.control.send_message(editor.id, None, bot=account, photo=b"\x89PNG fake",
                            caption=caption, entities=(bold.to_dict(),))  # fmt: skip
    await published(desk, editor)
    copy = tg.control.transcript(reader.id, bot=account)[-1]
    assert copy.caption == "Smoke\nBy Eda\n\nSeen from the **river**\n\n#Ukraine"
    assert "**<b>river</b>**" in copy.html  # the stars were typed; bold is the word
