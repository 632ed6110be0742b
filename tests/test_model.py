"""The Update model: validation names the field, and the codec round-trips every valid update."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay import chars, model
from relay.errors import InvalidUpdate
from relay.model import Action, Destination, Image, Update

# Text of several lines (body, caption): no control character but tab and LF.
text = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), include_characters="\n\t"), max_size=300
)
# One line (author, credit): no line break either.
one_line = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), include_characters="\t"),
    max_size=300,
)
line = one_line.filter(chars.visible)
urls = st.from_regex(r"https?://[a-z]{1,20}\.(org|com)(/[a-z0-9_-]{0,30}){0,3}", fullmatch=True)
updates = st.builds(
    Update,
    id=st.from_regex(r"[A-Za-z0-9_.-]{0,32}[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", fullmatch=True),
    topic=st.from_regex(r"[a-z0-9][a-z0-9-]{0,31}", fullmatch=True),
    action=st.sampled_from(Action),
    revision=st.integers(1, 10_000),
    headline=line.map(lambda s: s[:256]),
    body=text,
    link=st.none() | urls,
    image=st.none()
    | st.builds(Image, url=urls, caption=text, credit=one_line.map(lambda s: s[:200])),
    breaking=st.booleans(),
    author=one_line.map(lambda s: s[:100]),
    published_at=st.datetimes(
        min_value=datetime(2000, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))]),
    ),
)


@given(updates)
def test_codec_round_trips_every_valid_update(update: Update) -> None:
    assert model.decode(model.encode(update)) == update


def _update(**fields: object) -> Update:
    base: dict[str, object] = {"id": "u-1", "topic": "ukraine", "headline": "Talks resume"}
    base.update(fields)
    return Update(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"id": "has space"}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"topic": "Not A Slug"}, "topic"),
        ({"headline": ""}, "headline"),
        ({"headline": "two\nlines"}, "headline"),
        ({"headline": "h" * 257}, "headline"),
        ({"body": "b" * 10_001}, "body"),
        ({"link": "javascript:alert(1)"}, "link"),
        ({"link": "ftp://example.org/file"}, "link"),
        ({"link": "https://"}, "link"),
        ({"image": Image("file:///etc/passwd")}, "image.url"),
        ({"image": Image("https://example.org/p.jpg", credit="c" * 201)}, "image.credit"),
        ({"revision": 0}, "revision"),
        ({"published_at": datetime(2026, 1, 1)}, "published_at"),
    ],
)
def test_validation_names_the_bad_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidUpdate) as info:
        model.validate(_update(**fields))
    assert info.value.field == field


def test_delete_needs_no_headline() -> None:
    assert model.validate(_update(headline="", action=Action.DELETE)).action is Action.DELETE


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("not json", "update"),
        ("[]", "update"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "colour": 1}', "colour"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "action": "publish!"}', "action"),
        ('{"id": "a", "topic": "ukraine", "headline": 5}', "headline"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "breaking": "yes"}', "breaking"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "revision": "2"}', "revision"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "image": "https://x.org/a"}', "image"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "image": {"src": "x"}}', "image.src"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "published_at": "yesterday"}',
         "published_at"),
        # null is "none" only for link and image: a string or a flag must have its type
        ('{"id": "a", "topic": "ukraine", "headline": null}', "headline"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "body": null}', "body"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "author": null}', "author"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "author": ["a"]}', "author"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "breaking": null}', "breaking"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "link": 5}', "link"),
        ('{"id": "a", "topic": "ukraine", "headline": "h", "image": {"url": "https://x.org/p",'
         ' "caption": null}}', "image.caption"),
        ('{"id": "a", "topic": "ukraine", "headline": "h \\ud800"}', "headline"),
    ],
)  # fmt: skip
def test_decode_names_the_bad_field(payload: str, field: str) -> None:
    with pytest.raises(InvalidUpdate) as info:
        model.decode(payload)
    assert info.value.field == field


def test_null_link_and_image_mean_none_and_an_empty_link_is_no_link() -> None:
    base = '{"id": "a", "topic": "ukraine", "headline": "h", '
    assert model.decode(base + '"link": null, "image": null}').link is None
    assert model.decode(base + '"link": ""}').link is None
    assert model.validate(_update(link="")).link is None


def test_generated_ids_are_valid_and_distinct() -> None:
    ids = {model.new_update_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(model.ID_PATTERN.match(i) for i in ids)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("telegram:-1001234", Destination("telegram", "-1001234")),
        ("telegram:-1001234:17", Destination("telegram", "-1001234", "17")),
        ("Discord:998877", Destination("discord", "998877")),
    ],
)
def test_destination_parse_and_str_round_trip(text: str, expected: Destination) -> None:
    assert Destination.parse(text) == expected
    assert Destination.parse(str(expected)) == expected


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("telegram", "destination"),
        ("a:b:c:d", "destination"),
        ("telegram:", "chat"),
        (":5", "platform"),
        ("1x:5", "platform"),
        ("sms:5", "platform"),
        ("telegram:abc", "chat"),
        ("telegram:@ab", "chat"),  # a username has 5-32 characters
        ("telegram:-100:0", "thread"),
        ("telegram:-100:x", "thread"),
        ("telegram:-100:", "thread"),
        ("discord:-5", "chat"),
        ("discord:12a", "chat"),
        ("console:", "chat"),
        ("console:..", "chat"),
        ("console:a b", "chat"),
        ("console:a\x1bb", "chat"),
        ("console:" + "x" * 65, "chat"),
    ],
)
def test_destination_parse_rejects_naming_the_part(text: str, part: str) -> None:
    with pytest.raises(InvalidUpdate) as info:
        Destination.parse(text)
    assert info.value.field == part
    assert len(str(info.value)) < 120  # a long value is abridged, never echoed whole


@pytest.mark.parametrize(
    ("args", "part"),
    [
        (("console", ""), "chat"),
        (("console", "a:b"), "chat"),  # would be stored as console:a:b, read back as a thread
        (("console", "x", "b"), "thread"),
        (("console", "x", ""), "thread"),
        (("telegram", " -100"), "chat"),
        (("telegram", "-100\n"), "chat"),
        (("Telegram", "-100"), "platform"),
        (("discord", "\u0661\u0662"), "chat"),  # Arabic-Indic digits are digits to str.isdigit
    ],
)
def test_a_destination_is_valid_by_construction(args: tuple[str, ...], part: str) -> None:
    with pytest.raises(InvalidUpdate) as info:
        Destination(*args)
    assert info.value.field == part


snowflakes = st.from_regex(r"[1-9][0-9]{0,19}", fullmatch=True)
names = st.from_regex(r"[A-Za-z0-9_.-]{0,30}[A-Za-z0-9][A-Za-z0-9_.-]{0,30}", fullmatch=True)
telegram_chats = st.from_regex(r"-?[1-9][0-9]{0,19}|@[A-Za-z][A-Za-z0-9_]{3,31}", fullmatch=True)
destinations = st.one_of(
    st.builds(Destination, st.just("telegram"), telegram_chats, st.none() | snowflakes),
    st.builds(Destination, st.just("discord"), snowflakes, st.none() | snowflakes),
    st.builds(Destination, st.just("console"), names),
)


@given(destinations)
def test_every_valid_destination_round_trips_through_its_key(dest: Destination) -> None:
    assert Destination.parse(str(dest)) == dest


@pytest.mark.parametrize("field", ["headline", "body", "author", "image.caption", "image.credit"])
@pytest.mark.parametrize(
    "char",
    ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\x0b", "\x0c"],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_control_characters_are_refused_in_every_text_field(field: str, char: str) -> None:
    value = f"Talks {char}[31mresume"
    fields: dict[str, object] = {"headline": "Talks"}
    if field.startswith("image."):
        fields["image"] = {"url": "https://example.org/p.jpg", field.split(".")[1]: value}
    else:
        fields[field] = value
    with pytest.raises(InvalidUpdate) as info:
        model.from_dict({"id": "u-1", "topic": "ukraine", **fields})
    assert info.value.field == field
    assert info.value.message == f"must not contain control characters, found U+{ord(char):04X}"


@pytest.mark.parametrize("url", ["https://example.org/a\x00b", "https://example.org/\x1b[2J"])
def test_control_characters_are_refused_in_links(url: str) -> None:
    with pytest.raises(InvalidUpdate) as info:
        model.validate(_update(link=url))
    assert info.value.field == "link"


def test_body_and_caption_keep_tabs_and_line_breaks_and_read_cr_lf_as_lf() -> None:
    image = Image("https://example.org/p.jpg", caption="one\r\ntwo\rthree")
    update = model.validate(_update(body="a\r\nb\n\tc", image=image, author="A\tB"))
    assert update.body == "a\nb\n\tc"
    assert update.image == Image("https://example.org/p.jpg", caption="one\ntwo\nthree")
    assert model.decode(model.encode(update)) == update


@pytest.mark.parametrize(
    ("field", "value"),
    [("author", "Ann\nSmith"), ("image.credit", "AP\r\nReuters"), ("headline", "a\u2028b"),
     ("headline", "a\x85b")],
)  # fmt: skip
def test_one_line_fields_refuse_line_breaks(field: str, value: str) -> None:
    data: dict[str, object] = {"id": "u-1", "topic": "ukraine", "headline": "h"}
    if field == "image.credit":
        data["image"] = {"url": "https://example.org/p.jpg", "credit": value}
    else:
        data[field] = value
    with pytest.raises(InvalidUpdate) as info:
        model.from_dict(data)
    assert (info.value.field, info.value.message) == (field, "must be a single line")


@pytest.mark.parametrize(
    "headline",
    ["\u200b", "\u200c\u200d", "\u2060", "\ufeff", "\u00ad", " \u200b\t ",
     "\u3164", "\u2800", "\u202e\u2066"],
)  # fmt: skip
def test_a_headline_of_invisible_characters_is_refused(headline: str) -> None:
    with pytest.raises(InvalidUpdate) as info:
        model.validate(_update(headline=headline))
    assert (info.value.field, info.value.message) == ("headline", "must contain visible text")


def test_a_headline_of_only_spaces_is_empty_and_rtl_marks_in_real_text_stay() -> None:
    with pytest.raises(InvalidUpdate, match="headline: must not be empty"):
        model.validate(_update(headline=" \t\u3000\u00a0 "))
    persian = "\u0645\u06cc\u200c\u0631\u0648\u062f"  # ZWNJ belongs in Persian words
    assert model.validate(_update(headline=persian)).headline == persian


@pytest.mark.parametrize("update_id", [".", "..", "...", "-", "_", "._-", "u-1\n"])
def test_ids_without_a_letter_or_digit_are_refused(update_id: str) -> None:
    with pytest.raises(InvalidUpdate) as info:
        model.from_dict({"id": update_id, "topic": "ukraine", "headline": "h"})
    assert info.value.field == "id"


def test_a_topic_with_a_trailing_newline_is_no_slug() -> None:
    with pytest.raises(InvalidUpdate) as info:
        model.validate(_update(topic="ukraine\n"))
    assert info.value.field == "topic"


any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60) | st.text(
    st.sampled_from("a é\u00a0\x85\x9b\x1b\t\n\r\u2028\u2029\u200b\u0416\x7f\x00"), max_size=20
)


@given(any_text, st.booleans())
def test_the_fast_control_check_agrees_with_the_plain_definition(text: str, lines: bool) -> None:
    """`clean` looks at bytes for speed; it refuses exactly what the category Cc says."""
    breaks = "\n" if lines else ""
    normal = text.replace("\r\n", "\n").replace("\r", "\n") if lines else text
    bad = [c for c in normal if unicodedata.category(c) == "Cc" and c not in "\t" + breaks]
    if not lines:
        bad += [c for c in normal if c in "\u2028\u2029"]
    try:
        assert chars.clean("f", text, lines=lines) == normal
        assert not bad, bad
    except InvalidUpdate:
        assert bad
