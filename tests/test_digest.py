"""A digest line shows headlines as typed: literal text on every platform, never live Markdown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from relay import markup
from relay.config import Config
from relay.digest import digest_update
from relay.model import Update
from tests.adapters.test_markup_platforms import both

PHISH = "[click me](https://evil.example/phish) **now** _please_ > https://evil.example/x"

LINE = (
    st.lists(st.sampled_from([*"*_[]()<>`\\#!&;:/.-~|+= ab1Жé", "https://x.org/"]), max_size=30)
    .map(lambda parts: "".join(parts).strip())
    .filter(bool)
)


@given(LINE)
def test_literal_reads_back_as_exactly_the_text_and_nothing_live(text: str) -> None:
    doc = markup.parse(markup.literal(text))
    [(paragraph, quoted)] = list(markup.paragraphs(doc))
    assert not quoted
    assert all(isinstance(i, markup.Text) for i in paragraph.inlines), paragraph
    assert markup.plain_text(doc) == text


def test_a_headline_that_looks_like_markdown_is_no_link_in_a_digest(config: Config) -> None:
    updates = [
        Update("u1", "ukraine", headline=PHISH, link="https://example.org/live/1"),
        Update("u2", "ukraine", headline="Second"),
    ]
    digest = digest_update(updates, config)
    for reading in both(digest.body):
        links = {href for _text, _styles, href in reading if href}
        assert links == {"https://example.org/live/1"}  # only the update's own Read link
        shown = "".join(text for text, _styles, _href in reading).replace(" ", "")
        assert f"War in Ukraine: {PHISH} Read".replace(" ", "") in shown
        styled = [text for text, styles, _href in reading if styles and PHISH in shown]
        assert not any("click" in t or "now" in t or "please" in t for t in styled)
