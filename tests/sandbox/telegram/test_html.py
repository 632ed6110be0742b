"""The sandbox's Telegram HTML parser against TDLib's behaviour, case by case and by property."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_sandbox.telegram.html import (
    EntityParseError,
    MessageEntity,
    TextError,
    check_length,
    check_raw_text,
    code_point_length,
    entities_to_html,
    finalize_text,
    parse_html,
    process_text,
    utf16_length,
)

E = MessageEntity


def brief(entities: list[MessageEntity]) -> list[tuple[object, ...]]:
    """(type, offset, length[, the one argument]) for compact expectations."""
    out = []
    for e in entities:
        extra = [
            v
            for v in (e.url, e.language, e.custom_emoji_id, e.user_id, e.unix_time)
            if v is not None
        ]
        out.append((e.type, e.offset, e.length, *extra))
    return out


# Cases from TDLib's own test/message_entities.cpp (check_parse_html), plus the brief's.
PARSED = [
    ("", "", []),
    ("&ge;&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;", '&ge;<>&"&laquo;&raquo;&#12345678;', []),
    ("&Or;", "&Or;", []),
    ("a&nbsp;b &amp c&#65;&#x42;&#X43;", "a&nbsp;b & cAB&#X43;", []),
    ("a > b", "a > b", []),
    ("🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>", "🏟 🏟🏟 ><🏟", [("italic", 5, 7), ("bold", 9, 3)]),
    ("🏟 🏟&lt;<i    aba  =  190azAz-.   >a</i>", "🏟 🏟<a", [("italic", 6, 1)]),
    ("🏟 🏟&lt;<i    aba  =  '&lt;&gt;&quot;'>a</>", "🏟 🏟<a", [("italic", 6, 1)]),
    ("🏟 🏟&lt;<i>a</    >", "🏟 🏟<a", [("italic", 6, 1)]),
    ("🏟 🏟&lt;<b></b>", "🏟 🏟<", []),
    ("<i>\r</i>", "\r", [("italic", 0, 1)]),
    ("😀<b>x</b>", "😀x", [("bold", 2, 1)]),
    ("<B>x</b><STRONG>y</strong>", "xy", [("bold", 0, 1), ("bold", 1, 1)]),
    (
        "<b>b <i>bi <u>biu <s>bius</s></u></i></b>",
        "b bi biu bius",
        [("bold", 0, 13), ("italic", 2, 11), ("underline", 5, 8), ("strikethrough", 9, 4)],
    ),
    (
        "<ins>u</ins><strike>s</strike><del>d</del><em>e</em>",
        "usde",
        [
            ("underline", 0, 1),
            ("strikethrough", 1, 1),
            ("strikethrough", 2, 1),
            ("italic", 3, 1),
        ],
    ),
    (
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>',
        "st",
        [
            ("spoiler", 0, 1),
            ("spoiler", 1, 1),
        ],
    ),
    ("<span class=TG-SPOILER>s</span>", "s", [("spoiler", 0, 1)]),  # unquoted: lower-cased
    (
        "<code><i><b> </b></i></code><i><b><code> </code></b></i>",
        "  ",
        [
            ("code", 0, 1),
            ("bold", 0, 1),
            ("italic", 0, 1),
            ("code", 1, 1),
            ("bold", 1, 1),
            ("italic", 1, 1),
        ],
    ),
    ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", [("pre", 0, 5, "python")]),
    ('<code class="language-fift"><pre>p</pre></code>', "p", [("pre", 0, 1, "fift")]),
    ('<code class="language-python">x</code>', "x", [("code", 0, 1)]),
    ('<pre><code class="language-">x</code></pre>', "x", [("pre", 0, 1), ("code", 0, 1)]),
    ('<pre><code class="language-fift">x</code> </pre>', "x ", [("pre", 0, 2), ("code", 0, 1)]),
    ("<a href=telegram.org>\t</a>", "\t", [("text_link", 0, 1, "http://telegram.org/")]),
    (
        "<a   href=  'telegram.org?&lt;'   > </a>",
        " ",
        [("text_link", 0, 1, "http://telegram.org/?<")],
    ),
    (
        "<a href='https://e.com/?a=1&amp;b=&quot;x&quot;'>r</a>",
        "r",
        [("text_link", 0, 1, 'https://e.com/?a=1&b="x"')],
    ),
    (
        '<a href="https://EXAMPLE.com:0443">x</a>',
        "x",
        [("text_link", 0, 1, "https://example.com:443/")],
    ),
    ("<a>telegram.org</a>", "telegram.org", [("text_link", 0, 12, "http://telegram.org/")]),
    ("<a>telegram.org </a>", "telegram.org ", []),
    ("<a> </a>", " ", []),
    ('<a href="">x</a>', "x", []),
    ('<a href="javascript:alert(1)">x</a>', "x", []),
    ('<a href="ftp://files.example.com/a">x</a>', "x", []),
    ('<a href="localhost">x</a>', "x", []),
    ('<a HREF="https://e.com">x</a>', "x", []),  # attribute names are case-sensitive
    (
        '<a href="tg://resolve?domain=news">x</a>',
        "x",
        [("text_link", 0, 1, "tg://resolve?domain=news")],
    ),
    ('<a href="tg://user?id=123456">Ann</a>', "Ann", [("text_mention", 0, 3, 123456)]),
    ('<a href="TG:user?id=7">x</a>', "x", [("text_mention", 0, 1, 7)]),
    ('<a href="tg://user?id=abc">x</a>', "x", [("text_link", 0, 1, "tg://user?id=abc")]),
    (
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
        "👍",
        [
            ("custom_emoji", 0, 2, "5368324170671202286"),
        ],
    ),
    ('<tg-emoji emoji-id="x"></tg-emoji>', "", []),  # no span, no entity, no check
    ("<blockquote>q</blockquote>", "q", [("blockquote", 0, 1)]),
    ("<blockquote expandable>q</blockquote>", "q", [("expandable_blockquote", 0, 1)]),
    (
        "<blockquote   expandable=false>a&lt;<pre  >b;</></>",
        "a<b;",
        [
            ("expandable_blockquote", 0, 4),
            ("pre", 2, 2),
        ],
    ),
    (
        '<tg-time unix="1647531900" format="wDT">22:45</tg-time>',
        "22:45",
        [("date_time", 0, 5, 1647531900)],
    ),
]


@pytest.mark.parametrize(("markup", "text", "entities"), PARSED)
def test_parse_html(markup: str, text: str, entities: list[tuple[object, ...]]) -> None:
    parsed, found = parse_html(markup)
    assert parsed == text
    assert brief(found) == entities


ERRORS = [
    (
        "&#57311;",
        "Text contains invalid Unicode characters after decoding HTML entities, "
        "check for unmatched surrogate code units",
    ),
    ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
    ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
    ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
    ("🏟 🏟&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
    ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
    ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
    ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
    ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
    ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
    ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
    ("🏟 🏟&lt;<i>a</em   >", 'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"'),
    ("<p>Hello</p>", 'Unsupported start tag "p" at byte offset 0'),
    ("<BR/>", 'Unsupported start tag "br/" at byte offset 0'),
    ("Привет <p>", 'Unsupported start tag "p" at byte offset 13'),  # Cyrillic: 2 bytes each
    ("مرحبا <div>", 'Unsupported start tag "div" at byte offset 11'),  # Arabic: 2 bytes each
    ("😀 a<b", "Unclosed start tag at byte offset 6"),  # emoji: 4 bytes
    ("a<b", "Unclosed start tag at byte offset 1"),
    ("<a href=https://e.com>x</a>", "Unexpected end of name token at byte offset 8"),
    ("a < b", 'Unsupported start tag "" at byte offset 2'),
    ("a <", "Unclosed start tag at byte offset 2"),
    ("</b>", "Unexpected end tag at byte offset 0"),
    ("<b><i></b></i>", 'Unmatched end tag at byte offset 6, expected "</i>", found "</b>"'),
    ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
    ("<b><i>x</i>", 'Can\'t find end tag corresponding to start tag "b"'),
    ('<span class="spoiler">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    (
        'ok <span class="TG-SPOILER">s</span>',
        'Tag "span" must have class "tg-spoiler" at byte offset 3',
    ),
    ("<span>s</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ('<tg-emoji emoji-id="12a">x</tg-emoji>', "Invalid custom emoji identifier specified"),
    ('<tg-emoji emoji-id="012">x</tg-emoji>', "Invalid custom emoji identifier specified"),
    ('<tg-time unix="1" format="rt">x</tg-time>', "Invalid date format used"),
    ('<tg-time unix="1" format="ts">x</tg-time>', "Invalid date format used"),
]


@pytest.mark.parametrize(("markup", "message"), ERRORS)
def test_parse_html_errors(markup: str, message: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(markup)
    assert caught.value.message == message
    assert caught.value.description == "Bad Request: can't parse entities: " + message


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("wDT", "wDT"), ("Tw", "wT"), ("tTdD", "dt"), ("W", "w"), ("r", "r"), ("", "")],
)
def test_tg_time_format_comes_back_in_telegram_order(fmt: str, expected: str) -> None:
    _, entities = parse_html(f'<tg-time unix="1647531900" format="{fmt}">now</tg-time>')
    assert entities[0].to_dict() == {
        "type": "date_time",
        "offset": 0,
        "length": 3,
        "unix_time": 1647531900,
        "date_time_format": expected,
    }


def test_raw_text_over_32768_bytes_is_refused_before_parsing() -> None:
    assert check_raw_text("я" * 16384) is None  # 32768 bytes exactly
    assert check_raw_text("я" * 16384 + "x") == "Bad Request: text is too long"
    with pytest.raises(TextError) as caught:
        parse_html("<p>" + "x" * 32768)
    assert caught.value.description == "Bad Request: text is too long"


def test_to_dict_has_the_bot_api_shape() -> None:
    _, entities = parse_html(
        '<pre><code class="language-py">x</code></pre><a href="https://e.com">l</a>'
        '<a href="tg://user?id=42">u</a><tg-emoji emoji-id="5">e</tg-emoji><b>b</b>'
    )
    assert [e.to_dict() for e in entities] == [
        {"type": "pre", "offset": 0, "length": 1, "language": "py"},
        {"type": "text_link", "offset": 1, "length": 1, "url": "https://e.com/"},
        {"type": "text_mention", "offset": 2, "length": 1, "user": {"id": 42}},
        {"type": "custom_emoji", "offset": 3, "length": 1, "custom_emoji_id": "5"},
        {"type": "bold", "offset": 4, "length": 1},
    ]


def test_lengths() -> None:
    assert code_point_length("a😀é") == 3
    assert utf16_length("a😀é") == 4


FINALIZED = [
    # splittable entities are cut at every other entity's edges, as the Bot API answers
    (
        '<b>Read: <a href="https://x.com">link</a> more</b>',
        "Read: link more",
        [
            ("bold", 0, 6),
            ("text_link", 6, 4, "https://x.com/"),
            ("bold", 6, 4),
            ("bold", 10, 5),
        ],
    ),
    ("<b>a</b><b>b</b>", "ab", [("bold", 0, 2)]),
    ("<b>x<i>y</i></b>", "xy", [("bold", 0, 1), ("bold", 1, 1), ("italic", 1, 1)]),
    ("<code><b>x</b></code>", "x", [("code", 0, 1)]),
    ('<pre><code class="language-">x</code></pre>', "x", [("pre", 0, 1)]),
    ("<blockquote>a<blockquote>b</blockquote></blockquote>", "ab", [("blockquote", 0, 2)]),
    ("<blockquote>q <pre>p</pre></blockquote>", "q p", [("blockquote", 0, 3), ("pre", 2, 1)]),
    (
        '<a href="https://a.com">x<a href="https://b.com">y</a></a>',
        "xy",
        [
            ("text_link", 0, 2, "https://a.com/"),
        ],
    ),
    # trimming: spaces and newlines at both ends, never inside the first entity
    ("\n  <b>hi</b> there  \n", "hi there", [("bold", 0, 2)]),
    ("<b>  hi  </b>", "  hi", [("bold", 0, 4)]),
    ("<b> </b>x", " x", [("bold", 0, 1)]),
    # control characters become spaces; \r, U+2028..U+202E and three marks are removed
    ("\ta\r\nb\tc\t", "a\nb c", []),
    ("a\u2028b\u202ec\u030ad\u0333e\u033f <b>f</b>", "abcde f", [("bold", 6, 1)]),
    # runs of direction marks: all but the last become ZERO WIDTH NON-JOINER
    ("\u200f\u200f x \u200e\u200e\u200e", "\u200c\u200f x \u200c\u200c\u200e", []),
]


@pytest.mark.parametrize(("markup", "text", "entities"), FINALIZED)
def test_finalize_text(markup: str, text: str, entities: list[tuple[object, ...]]) -> None:
    finalized, found = finalize_text(*parse_html(markup))
    assert finalized == text
    assert brief(found) == entities


@pytest.mark.parametrize(
    "markup",
    [
        "<b></b>",
        " \n ",
        "<i>\t</i>",
        "\u200b",
        "\u00a0",
        "\u3000",
        "\u2800",
        "\ufeff",
        "\U000e0020",
        " \u200b\n",
        "\r\n",
    ],
)
def test_nothing_visible_is_refused_for_text_and_allowed_for_captions(markup: str) -> None:
    with pytest.raises(TextError) as caught:
        finalize_text(*parse_html(markup))
    assert caught.value.description == "Bad Request: text must be non-empty"
    kept = telegram_normalised(parse_html(markup)[0])  # a caption keeps invisible characters
    assert process_text(markup, "HTML", caption=True) == (kept, [])


@pytest.mark.parametrize(
    ("text", "entity", "message"),
    [
        (
            "hello",
            E("bold", 3, 5),
            "Entity beginning at UTF-16 offset 3 ends after the end of the text at UTF-16 offset 8",
        ),
        ("hi", E("bold", 5, 1), "Entity begins after the end of the text at UTF-16 offset 5"),
        ("😀x", E("bold", 1, 2), "Entity begins in a middle of a UTF-16 symbol at byte offset 4"),
        (
            "😀x",
            E("bold", 0, 1),
            "Entity beginning at UTF-16 offset 0 ends in a middle of a "
            "UTF-16 symbol at byte offset 4",
        ),
        ("hi", E("bold", -1, 1), "Receive an entity with incorrect offset -1"),
    ],
)
def test_explicit_entities_outside_the_text_are_refused(
    text: str, entity: MessageEntity, message: str
) -> None:
    with pytest.raises(TextError) as caught:
        finalize_text(text, [entity])
    assert caught.value.message == message
    assert caught.value.description == "Bad Request: " + message[0].lower() + message[1:]


def test_a_hangul_filler_is_visible() -> None:
    assert finalize_text("\u3164", []) == ("\u3164", [])


def test_limits_count_code_points_after_parsing() -> None:
    assert process_text("😀" * 4096, None)[0] == "😀" * 4096  # 8192 UTF-16 units: accepted
    assert check_length("😀" * 4096, caption=False) is None
    assert check_length("😀" * 4097, caption=False) == "Bad Request: message is too long"
    assert check_length("x" * 1024, caption=True) is None
    assert check_length("x" * 1025, caption=True) == "Bad Request: message caption is too long"
    assert process_text("<b>" + "x" * 4096 + "</b>", "HTML")[1] == [E("bold", 0, 4096)]
    with pytest.raises(TextError) as caught:
        process_text("<b>" + "x" * 4097 + "</b>", "html")
    assert caught.value.description == "Bad Request: message is too long"
    with pytest.raises(TextError) as caught:
        process_text("y" * 1025, None, caption=True)
    assert caught.value.description == "Bad Request: message caption is too long"


def test_process_text_answers_like_the_bot_api() -> None:
    def refused(text: str, mode: str | None) -> str:
        with pytest.raises(TextError) as caught:
            process_text(text, mode)
        return caught.value.description

    assert refused("", "HTML") == "Bad Request: message text is empty"
    assert refused("x", "Foo") == "Bad Request: unsupported parse_mode"
    assert (
        refused("a<b", "HTML")
        == "Bad Request: can't parse entities: Unclosed start tag at byte offset 1"
    )
    assert refused("x" * 32769, None) == "Bad Request: text is too long"
    assert process_text("<b>raw</b>", "none") == ("<b>raw</b>", [])
    assert process_text("<b>raw</b>", None) == ("<b>raw</b>", [])


def test_entities_to_html_escapes_and_nests() -> None:
    text = 'Tom & Jerry <3 "quotes" 😀 link'
    entities = [
        E("bold", 0, 3),
        E("text_link", 27, 4, url='https://e.com/?q="a"&b=1'),
        E("italic", 27, 4),
        E("pre", 4, 1, language="py"),
    ]
    rendered = entities_to_html(text, entities)
    assert rendered == (
        '<b>Tom</b> <pre><code class="language-py">&amp;</code></pre> Jerry &lt;3 "quotes" 😀 '
        '<a href="https://e.com/?q=&quot;a&quot;&amp;b=1"><i>link</i></a>'
    )
    assert parse_html(rendered) == (text, sorted_like_parse(entities))


def sorted_like_parse(entities: list[MessageEntity]) -> list[MessageEntity]:
    return parse_html(entities_to_html(*parse_html(entities_to_html("x" * 40, entities))))[1]


def test_entities_to_html_leaves_detected_entities_to_telegram() -> None:
    assert entities_to_html("see https://x.com", [E("url", 4, 13)]) == "see https://x.com"


def test_entities_to_html_reopens_crossing_entities() -> None:
    rendered = entities_to_html("abcd", [E("bold", 0, 3), E("italic", 1, 3)])
    assert rendered == "<b>a<i>bc</i></b><i>d</i>"


# --- properties -------------------------------------------------------------------------------

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.text())
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    assert parse_html(html.escape(text, quote=False)) == (text, [])


def telegram_normalised(text: str) -> str:
    """What Telegram keeps of a plain text (reference for finalize_text, written separately)."""
    text = re.sub("[\r\u2028-\u202e\u030a\u0333\u033f]", "", text)
    text = re.sub("[\x00-\x09\x0b-\x1f]", " ", text)
    text = re.sub("[\u200e\u200f](?=[\u200e\u200f])", "\u200c", text)
    return text.strip(" \n")


@_SETTINGS
@given(st.text())
def test_plain_text_is_normalised_as_telegram_does(text: str) -> None:
    assert finalize_text(text, [], allow_empty=True) == (telegram_normalised(text), [])


TAGS = [
    ("<b>", "</b>"),
    ("<strong>", "</strong>"),
    ("<i>", "</i>"),
    ("<em>", "</em>"),
    ("<u>", "</u>"),
    ("<ins>", "</ins>"),
    ("<s>", "</s>"),
    ("<del>", "</del>"),
    ("<tg-spoiler>", "</tg-spoiler>"),
    ('<span class="tg-spoiler">', "</span>"),
    ("<code>", "</code>"),
    ("<pre>", "</pre>"),
    ('<pre><code class="language-python">', "</code></pre>"),
    ('<code class="language-c">', "</code>"),
    ("<blockquote>", "</blockquote>"),
    ("<blockquote expandable>", "</blockquote>"),
    ('<a href="https://example.com/a?b=1&amp;c=2">', "</a>"),
    ('<a href="tg://user?id=42">', "</a>"),
    ("<a href='news.example.org'>", "</a>"),
    ('<tg-emoji emoji-id="5368324170671202286">', "</tg-emoji>"),
    ('<tg-time unix="1647531900" format="wDT">', "</tg-time>"),
]
_leaf = st.text(alphabet=st.characters(codec="utf-8"), max_size=6).map(
    lambda t: html.escape(t, quote=False)
)
markup = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(TAGS), inner).map(lambda p: p[0][0] + p[1] + p[0][1]),
        st.lists(inner, min_size=2, max_size=4).map("".join),
    ),
    max_leaves=12,
)


@_SETTINGS
@given(markup)
def test_entities_to_html_round_trips_parsed_markup(source: str) -> None:
    parsed = parse_html(source)
    assert parse_html(entities_to_html(*parsed)) == parsed


@_SETTINGS
@given(markup)
def test_finalized_entities_are_stable_and_inside_the_text(source: str) -> None:
    text, entities = finalize_text(*parse_html(source), allow_empty=True)
    assert all(e.offset >= 0 and e.end <= utf16_length(text) and e.length > 0 for e in entities)
    assert finalize_text(text, entities, allow_empty=True) == (text, entities)
    again = finalize_text(*parse_html(entities_to_html(text, entities)), allow_empty=True)
    assert again == (text, entities)
