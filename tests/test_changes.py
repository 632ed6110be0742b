"""Changes: an edit parsed by the update's own field parsers; apply() yields a decodable update."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay import model
from relay.changes import EDITABLE, UNSET, Changes
from relay.errors import InvalidUpdate
from relay.model import Action, Image, Update

from .test_model import line, text, updates, urls

PREV = Update(
    "u1", "ukraine", headline="Talks", body="First", link="https://example.org/a",
    image=Image("https://example.org/p.jpg", "Caption", "Photo: Agency"), author="desk",
)  # fmt: skip


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"breaking": "yes"}, "breaking"),
        ({"breaking": 1}, "breaking"),
        ({"breaking": None}, "breaking"),
        ({"author": ["a"]}, "author"),
        ({"author": None}, "author"),
        ({"author": 7}, "author"),
        ({"author": "a" * 101}, "author"),
        ({"headline": None}, "headline"),
        ({"headline": 5}, "headline"),
        ({"headline": ""}, "headline"),
        ({"headline": "   "}, "headline"),
        ({"headline": "two\nlines"}, "headline"),
        ({"body": None}, "body"),
        ({"body": 5}, "body"),
        ({"body": "b" * 10_001}, "body"),
        ({"body": "\ud800"}, "body"),
        ({"link": 5}, "link"),
        ({"link": "javascript:alert(1)"}, "link"),
        ({"link": ["https://example.org"]}, "link"),
        ({"image": "https://example.org/p.jpg"}, "image"),
        ({"image": ["https://example.org/p.jpg"]}, "image"),
        ({"image": {"url": "https://example.org/p.jpg", "src": "x"}}, "image.src"),
        ({"image": {"caption": "no url"}}, "image.url"),
        ({"image": {"url": 5}}, "image.url"),
        ({"image": {"url": "https://example.org/p.jpg", "credit": None}}, "image.credit"),
        ({"topic": "climate"}, "topic"),
        ({"id": "other"}, "id"),
        ({"revision": 9}, "revision"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_field_is_named(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidUpdate) as info:
        Changes.from_dict(data)
    assert info.value.field == field


@pytest.mark.parametrize("data", [[], "headline", None, 3])
def test_an_edit_is_a_json_object(data: Any) -> None:
    with pytest.raises(InvalidUpdate) as info:
        Changes.from_dict(data)
    assert info.value.field == "changes"


def test_unknown_and_fixed_fields_are_told_apart() -> None:
    with pytest.raises(InvalidUpdate, match="cannot be changed by an edit"):
        Changes.from_dict({"topic": "climate"})
    with pytest.raises(InvalidUpdate, match="unknown field"):
        Changes.from_dict({"colour": "red"})


def test_the_constructor_parses_like_from_dict() -> None:
    with pytest.raises(InvalidUpdate) as info:
        Changes(breaking="yes")  # type: ignore[arg-type]
    assert info.value.field == "breaking"
    with pytest.raises(InvalidUpdate) as info:
        Changes(image=Image("ftp://example.org/p.jpg"))
    assert info.value.field == "image.url"
    assert Changes(image={"url": "https://x.org/p.jpg"}) == Changes(  # type: ignore[arg-type]
        image=Image("https://x.org/p.jpg")
    )


def test_unset_keeps_a_field_and_none_removes_a_link_or_photo() -> None:
    kept = Changes(headline="Talks end").apply(PREV)
    assert (kept.headline, kept.body, kept.link, kept.image) == (
        "Talks end", PREV.body, PREV.link, PREV.image
    )  # fmt: skip
    assert (kept.revision, kept.action, kept.published_at) == (2, Action.EDIT, PREV.published_at)
    removed = Changes.from_dict({"link": None, "image": None}).apply(PREV)
    assert (removed.link, removed.image, removed.headline) == (None, None, PREV.headline)
    assert Changes(link="").apply(PREV).link is None  # an emptied form field
    assert Changes(body="", author="").apply(PREV).body == ""
    assert Changes().set_fields() == {} and not Changes()
    assert Changes(link=None).set_fields() == {"link": None} and Changes(link=None)


def test_a_new_image_is_replaced_whole() -> None:
    new = Changes.from_dict({"image": {"url": "https://example.org/q.jpg"}}).apply(PREV)
    assert new.image == Image("https://example.org/q.jpg")


# Values of every JSON type, good and bad, for the publish/edit agreement below.
json_values = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | text | line | urls | st.lists(urls, max_size=2)
    | st.fixed_dictionaries({"url": urls}, optional={"caption": text, "credit": text})
    | st.dictionaries(st.sampled_from(["url", "caption", "src"]), text | st.none(), max_size=3)
)  # fmt: skip


@given(st.sampled_from(EDITABLE), json_values)
def test_a_value_valid_in_a_publish_is_valid_in_an_edit(name: str, value: Any) -> None:
    publish: dict[str, Any] = {"id": "u1", "topic": "ukraine", "headline": "Talks", name: value}
    try:
        published: Update | None = model.from_dict(publish)
    except InvalidUpdate as exc:
        assert exc.field.split(".")[0] == name
        published = None
    try:
        changes: Changes | None = Changes.from_dict({name: value})
    except InvalidUpdate as exc:
        assert exc.field.split(".")[0] == name
        changes = None
    assert (published is None) == (changes is None), (name, value)
    if published is not None and changes is not None:
        assert getattr(changes.apply(PREV), name) == getattr(published, name)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.just(UNSET) | strategy


changes = st.builds(
    Changes,
    headline=_maybe(line.map(lambda s: s[:256]).filter(lambda s: s.strip())),
    body=_maybe(text),
    link=_maybe(st.none() | urls),
    image=_maybe(
        st.none() | st.builds(Image, url=urls, caption=text, credit=line.map(lambda s: s[:200]))
    ),
    breaking=_maybe(st.booleans()),
    author=_maybe(line.map(lambda s: s[:100])),  # one line, as every author
)


@given(updates.filter(lambda u: u.action is not Action.DELETE), changes)
def test_apply_gives_an_update_the_codec_round_trips(prev: Update, edit: Changes) -> None:
    new = edit.apply(prev)
    assert model.decode(model.encode(new)) == new
    assert (new.id, new.topic, new.revision, new.action) == (
        prev.id, prev.topic, prev.revision + 1, Action.EDIT
    )  # fmt: skip
    for name in EDITABLE:
        wanted = getattr(edit, name)
        assert getattr(new, name) == (getattr(prev, name) if wanted is UNSET else wanted)
    assert Changes.from_dict(edit.to_dict()) == edit
