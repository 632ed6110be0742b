"""The Update model: validation names the field, and the codec round-trips every valid update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay import model
from relay.errors import InvalidUpdate
from relay.model import Action, Destination, Image, Update

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
line = text.map(lambda s: s.replace("\n", " ").replace("\r", " ")).filter(lambda s: s.strip())
urls = st.from_regex(r"https?://[a-z]{1,20}\.(org|com)(/[a-z0-9_-]{0,30}){0,3}", fullmatch=True)
updates = st.builds(
    Update,
    id=st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True),
    topic=st.from_regex(r"[a-z0-9][a-z0-9-]{0,31}", fullmatch=True),
    action=st.sampled_from(Action),
    revision=st.integers(1, 10_000),
    headline=line.map(lambda s: s[:256]),
    body=text,
    link=st.none() | urls,
    image=st.none() | st.builds(Image, url=urls, caption=text, credit=text.map(lambda s: s[:200])),
    breaking=st.booleans(),
    author=text.map(lambda s: s[:100]),
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


@pytest.mark.parametrize("text", ["telegram", "telegram:", ":5", "a:b:c:d", "1x:5"])
def test_destination_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidUpdate):
        Destination.parse(text)
