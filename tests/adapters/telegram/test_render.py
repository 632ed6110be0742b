"""Rendering is pure: checked against the sandbox's copy of Telegram's HTML parser."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from relay_sandbox.telegram.formatted_text import is_empty_string
from relay_sandbox.telegram.html import process_text

from relay.adapters.telegram import TelegramMessage, render
from relay.chars import visible
from relay.config import TopicConfig
from relay.markup import parse, plain_text
from relay.model import Image, Update, validate

TOPIC = TopicConfig("ukraine", "War in Ukraine", hashtag="#Ukraine")
MARKER = re.compile(r"\s*\((\d+)/(\d+)\)$")
# What Telegram drops or rewrites when it cleans a text (see formatted_text._clean).
_DROPPED = {"\r", "\u030a", "\u0333", "\u033f", "\u200c", "\u200e", "\u200f",
            *map(chr, range(0x2028, 0x202F))}  # fmt: skip


def shown(messages: tuple[TelegramMessage, ...]) -> list[str]:
    """Each message as Telegram displays it; fails if Telegram would refuse one."""
    out = []
    for m in messages:
        text, _ = process_text(m.html, "html", caption=m.is_photo)
        out.append(text)
    return out


def norm(text: str) -> str:
    """Text compared without whitespace and the characters Telegram drops."""
    return "".join(c for c in text if not c.isspace() and c not in _DROPPED and c >= " ")


def without_markers(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    for i, part in enumerate(parts):
        match = MARKER.search(part)
        assert match is not None and match.groups() == (str(i + 1), str(len(parts)))
    return "\n\n".join(MARKER.sub("", p) for p in parts)


def upd(**fields: object) -> Update:
    fields.setdefault("headline", "Kyiv")
    return validate(Update(id="u1", topic="ukraine", **fields))  # type: ignore[arg-type]


# --- examples ---------------------------------------------------------------------------


def test_layout_breaking_marker_headline_body_credit_link_hashtag() -> None:
    update = upd(headline="Strike on <Kyiv> & Lviv", breaking=True,
                 body="First **para** with _style_.\n\n> A quote\n> on two lines\n\nLast.",
                 link="https://news.example/a")  # fmt: skip
    (message,) = render(update, TOPIC)
    assert message.html == (
        "<b>🔴 BREAKING</b>\n<b>Strike on &lt;Kyiv&gt; &amp; Lviv</b>\n\n"
        "First <b>para</b> with <i>style</i>.\n\n<blockquote>A quote\non two lines</blockquote>"
        '\n\nLast.\n\n<a href="https://news.example/a">Read more</a>\n\n#Ukraine'
    )
    assert message.preview_url == "https://news.example/a"


def test_markdown_that_does_not_pair_stays_text() -> None:
    body = "2*3 = 6, snake_case_name, **open, [x](javascript:alert(1)), _ spaced _"
    (message,) = render(upd(body=body), TopicConfig("t", "T"))
    assert shown((message,))[0] == "Kyiv\n\n" + body
    assert "<a" not in message.html and "<i>" not in message.html


def test_long_text_splits_on_paragraphs_first() -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 300 for i in range(6)]  # ~1,515 chars each
    messages = render(upd(body="\n\n".join(paragraphs)), TOPIC)
    parts = shown(messages)
    assert len(parts) == 3
    for part in parts:
        assert len(part) <= 4096
        body = MARKER.sub("", part).removeprefix("Kyiv\n\n").removesuffix("\n\n#Ukraine")
        assert all(p.startswith("Paragraph") for p in body.split("\n\n"))  # whole paragraphs


def test_an_overlong_paragraph_splits_on_sentences_then_words() -> None:
    sentences = " ".join(f"Sentence {i} is **bold** here." for i in range(300))  # one paragraph
    parts = shown(render(upd(body=sentences), TOPIC))
    assert len(parts) > 1
    for part in parts[:-1]:
        assert MARKER.sub("", part).endswith("here.")  # cut after a sentence
    words = "word " * 1990  # no sentence end at all
    parts = shown(render(upd(body=words), TOPIC))
    assert all(MARKER.sub("", p).endswith("word") for p in parts[:-1])
    assert norm(without_markers(parts)) == norm("Kyiv" + words + "#Ukraine")


def test_a_cut_never_splits_a_tag_or_an_entity_escape() -> None:
    body = "&<>" * 3000  # escapes are 4-5 bytes each; no place to cut but between characters
    messages = render(upd(body=body), TOPIC)
    parts = shown(messages)
    assert norm(without_markers(parts)) == norm("Kyiv" + body + "#Ukraine")
    link = "[" + "a" * 5000 + "](https://x.example/" + "p" * 2000 + ")"
    parts = shown(render(upd(body=link), TOPIC))
    assert norm(without_markers(parts)) == norm("Kyiv" + "a" * 5000 + "#Ukraine")


def test_long_link_targets_stay_under_the_raw_byte_limit() -> None:
    # 3 links whose targets escape to ~10 kB each, plus text: under 4,096 visible characters,
    # over 32,768 bytes of HTML.
    url = "https://x.example/?" + "&" * 2020
    body = " ".join(f"[l{i}]({url})" for i in range(3)) + " " + "&" * 3500
    messages = render(upd(body=body), TOPIC)
    assert len(messages) == 2
    assert all(len(m.html.encode()) <= 32768 for m in messages)
    parts = shown(messages)
    assert norm(without_markers(parts)) == norm("Kyivl0l1l2" + "&" * 3500 + "#Ukraine")
    assert all(m.preview_url is None for m in messages)  # several links: no previews


def test_photo_caption_fits_or_moves_the_rest_to_a_follow_up() -> None:
    image = Image("https://img.example/p.jpg", "A caption " * 100, "Jane Roe/AP")
    messages = render(upd(body="Body. " * 400, image=image), TOPIC)
    parts = shown(messages)
    assert messages[0].is_photo and not any(m.is_photo for m in messages[1:])
    assert len(parts[0]) <= 1024
    assert parts[0].startswith("Kyiv\n\nA caption A caption")
    assert "…\nPhoto: Jane Roe/AP" in parts[0]
    assert norm(image.caption) in norm(parts[1])  # the whole caption follows as text
    assert "<i>Photo: Jane Roe/AP</i>" in messages[0].html


def test_ten_thousand_characters_of_emoji_rtl_and_escapes() -> None:
    for body in ("😀" * 10_000, "שלום עולם مرحبا " * 625, "<&>" * 3333, "x" * 10_000):
        parts = shown(render(upd(body=body), TOPIC))
        assert all(len(p) <= 4096 for p in parts)
        assert norm(without_markers(parts)) == norm("Kyiv" + body + "#Ukraine")


# --- properties -------------------------------------------------------------------------

_SPECIAL = ["<", ">", "&", "&amp;", "&lt;", "<b>", "</i>", "&#60;", '"', "'", "\n", "\n\n",
            " ", "😀", "👨‍👩‍👧", "🇺🇦", "שלום", "مرحبا", "\u200f", "\u00a0", "> ", "\t"]  # fmt: skip
_PLAIN_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="*_[")
plain = st.lists(st.one_of(_PLAIN_CHARS, st.sampled_from(_SPECIAL)), max_size=60).map("".join)
one_line = plain.map(lambda s: " ".join(s.split()))
headline = (
    one_line.map(lambda h: h[:256])
    .filter(lambda h: bool(h.strip()) and not is_empty_string(h))
    .filter(visible)  # the relay refuses a headline of only invisible characters (U+00AD)
)
long_body = st.builds(lambda s, n: (s * n)[:10_000], plain.filter(bool), st.integers(1, 2000))


def _expected_body(body: str) -> str:
    """What the body shows: CommonMark's reading (`>0` is a quote too, `\\!` shows `!`),
    which tests/test_markup.py checks against markdown-it's own CommonMark preset."""
    return plain_text(parse(body))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    head=headline,
    body=st.one_of(plain, long_body),
    breaking=st.booleans(),
    link=st.sampled_from([None, "https://news.example/a?b=1&c=<2>"]),
    image=st.one_of(
        st.none(),
        st.builds(
            Image,
            st.just("https://i.example/p.jpg"),
            plain.map(lambda s: s[:1024]),
            one_line.map(lambda s: s[:200]),
        ),
    ),
)
def test_any_plain_text_is_accepted_and_shown(
    head: str, body: str, breaking: bool, link: str | None, image: Image | None
) -> None:
    update = upd(headline=head, body=body, breaking=breaking, link=link, image=image)
    messages = render(update, TOPIC)
    parts = shown(messages)
    event(f"{len(parts) if len(parts) < 3 else 'several'} part(s)")
    assert norm(head) in norm(parts[0])
    everything = norm(without_markers(parts))
    assert norm(_expected_body(body)) in everything
    if image is not None:
        assert messages[0].is_photo and len(parts[0]) <= 1024
        assert norm(image.caption) in everything and norm(image.credit) in everything
    assert all(
        len(p) <= (1024 if m.is_photo else 4096) for p, m in zip(parts, messages, strict=True)
    )


_CHUNK = (
    # no backslash: CommonMark reads `\\!` as `!`, so the words would not show as typed
    st.lists(_PLAIN_CHARS.filter(lambda c: c not in "[]()>\\"), min_size=1, max_size=12)
    .map("".join)
    .map(str.strip)
    .filter(lambda s: s != "" and not s[0].isspace() and not s[-1].isspace())
)
_TOKEN = st.one_of(
    _CHUNK.map(lambda s: (s, s)),
    _CHUNK.map(lambda s: (f"**{s}**", s)),
    _CHUNK.map(lambda s: (f"_{s}_", s)),
    _CHUNK.map(lambda s: (f"[{s}](https://x.example/{len(s)})", s)),
    # "2 * 3", not "2*3": CommonMark pairs the stars of two "2*3" in a paragraph (italics)
    st.sampled_from(["*", "a_b", "[", "]", "(", ")", "2 * 3", "](", "a__b", "* _"]).map(
        lambda s: (s, s)
    ),
)


@settings(max_examples=120, deadline=None)
@given(tokens=st.lists(_TOKEN, max_size=80), paragraphs=st.integers(1, 4))
def test_markdown_looking_text_is_accepted_and_shows_its_words(
    tokens: list[tuple[str, str]], paragraphs: int
) -> None:
    size = max(1, len(tokens) // paragraphs)
    groups = [tokens[i : i + size] for i in range(0, len(tokens), size)]
    body = "\n\n".join(" ".join(t[0] for t in g) for g in groups)
    expected = "\n\n".join(" ".join(t[1] for t in g) for g in groups)
    parts = shown(render(upd(body=body), TOPIC))
    assert norm(expected) in norm(without_markers(parts))
