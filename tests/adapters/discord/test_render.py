"""Rendering: the Markdown subset and escaping, the limits, and hypothesis property tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_sandbox.discord.endpoints import CREATE_MESSAGE_FIELDS
from relay_sandbox.discord.validate import embed_text_total, validate

from relay.adapters.discord.markdown import ZWSP, escape_headline
from relay.adapters.discord.render import render
from relay.config import TopicConfig
from relay.markup import parse, plain_text
from relay.model import Image, Update
from tests.adapters.test_markup_platforms import discord_chars

TOPIC = TopicConfig("ukraine", "War in Ukraine", color=0x0057B7, hashtag="#Ukraine")


def one(body: str, headline: str = "Headline", **kw: object) -> dict[str, object]:
    [payload] = render(Update(id="u", topic="ukraine", headline=headline, body=body, **kw), TOPIC)  # type: ignore[arg-type]
    [embed] = payload["embeds"]
    assert isinstance(embed, dict)
    return embed


def test_the_subset_becomes_discord_markdown() -> None:
    body = "**Bold** and _italic_ and [a link](https://ex.com/a_b).\n\n> A quote with **bold**"
    # italic as `*…*`: Discord's `_…_` needs a word boundary after it (`_a_b` is no italic)
    assert one(body)["description"] == (
        "**Bold** and *italic* and [a link](https://ex.com/a_b).\n\n> A quote with **bold**"
    )


def test_editor_text_cannot_inject_markdown_mentions_or_links() -> None:
    body = (
        "@everyone @here <@123> <@&456> <#789> <t:1:R> ~~strike~~ ||spoiler|| `code`\n"
        "# header\n- list\n1. numbered\n-# subtext\n[evil](https://evil.example) [x](javascript:y)"
    )
    description = one(body)["description"]
    assert description == (
        f"@{ZWSP}everyone @{ZWSP}here \\<@123> \\<@&456> \\<#789> \\<t:1:R> \\~\\~strike\\~\\~ "
        "\\|\\|spoiler\\|\\| \\`code\\`\n"
        "\\# header\n\\- list\n1\\. numbered\n\\-# subtext\n"
        "[evil](https://evil.example/) \\[x\\]\\(javascript:y)"  # no `](` left to close a label
    )
    assert one("x", headline="**Big** _news_ @everyone")["title"] == (
        f"\\*\\*Big\\*\\* \\_news\\_ @{ZWSP}everyone"
    )


def test_snake_case_and_bare_urls_are_left_readable() -> None:
    # a URL keeps its underscores; a `*` (never in a bare URL) is editor text, and since Discord
    # would take the `\\*` after a URL into its link, the URL goes in `<…>`
    assert one("see snake_case_name at https://ex.com/a_b*c")["description"] == (
        "see snake\\_case\\_name at <https://ex.com/a_b>\\*c"
    )
    assert one("see https://ex.com/a_b.")["description"] == "see https://ex.com/a_b."


def test_photo_credit_hashtag_and_no_body() -> None:
    embed = one("", image=Image("https://img.ex/p.jpg", "", "Reuters"))
    assert "description" not in embed
    assert embed["footer"] == {"text": "Photo: Reuters · #Ukraine"}


def test_a_stored_photo_is_the_attachment_and_a_telegram_file_id_no_image() -> None:
    stored = one("", image=Image(f"https://media.invalid/{'a' * 32}", "Dawn", "Reuters"))
    assert stored["image"] == {"url": f"attachment://{'a' * 32}.jpg"}
    # An update from before the media store carries a Telegram file id in an unreachable URL:
    # no picture beats a broken one; the caption and credit still show.
    legacy = one("", image=Image("https://telegram.invalid/file/AgACAgabc", "Dawn", "Reuters"))
    assert "image" not in legacy
    assert legacy["footer"] == {"text": "Dawn · Photo: Reuters · #Ukraine"}


def test_a_heavily_escaped_headline_is_shortened_and_leads_the_body() -> None:
    headline = "*" * 200
    embed = one("Body.", headline=headline)
    title = str(embed["title"])
    assert len(title) <= 256 and title.endswith("…")
    assert str(embed["description"]).startswith("**" + escape_headline(headline) + "**\n\nBody.")


def test_long_updates_fill_messages_within_the_limits() -> None:
    body = "\n\n".join("word " * 400 for _ in range(11))  # 22,000 characters
    update = Update(id="u", topic="ukraine", headline="Long", body=body)
    messages = render(update, TOPIC)
    assert len(messages) == 4  # four messages of at most 6,000 characters of embed text
    for m in messages:
        validate({**m, "nonce": "n"}, CREATE_MESSAGE_FIELDS, message=True)
        assert all("url" not in e for e in m["embeds"][1:])  # no gallery merging
    assert all(embed_text_total(m["embeds"]) > 5400 for m in messages[:-1])


# -- properties ------------------------------------------------------------------------------

TOKENS = ["**", "_", "*", "> ", "\n", "\n\n", "@everyone", "@here", "<@1>", "<#2>", "<@&3>",
          "[x](https://a.example/p_q)", "[", "](", ")", "`", "~~", "||", "# ", "- ", "1. ", "\\",
          "https://b.example/u_v", " ", "word", "ünï", "😀", "-#"]  # fmt: skip
texts = st.lists(
    st.one_of(st.sampled_from(TOKENS), st.text(st.characters(exclude_characters="\r\u200b"),
                                               max_size=30)),
    max_size=60,
).map("".join)  # fmt: skip
long_words = st.lists(st.sampled_from(["lorem", "ipsum", "**dolor**", "_sit_", "\n\n", "amet"]),
                      min_size=500, max_size=2500).map(" ".join)  # fmt: skip
headlines = (
    st.text(st.characters(exclude_characters="\r\n\u200b"), min_size=1, max_size=256)
    .filter(lambda h: bool(h.strip()))
)  # fmt: skip


@st.composite
def updates(draw: st.DrawFn) -> tuple[Update, TopicConfig]:
    topic = TopicConfig(
        "ukraine", draw(st.text(min_size=1, max_size=60).filter(str.strip)),
        color=draw(st.integers(0, 0xFFFFFF)), hashtag=draw(st.sampled_from(["", "#Ukraine"])),
        silent=draw(st.booleans()),
        breaking_roles=draw(st.lists(st.tuples(st.integers(1, 2**62), st.integers(1, 2**62)),
                                     max_size=2, unique_by=lambda p: p[0]).map(tuple)),
    )  # fmt: skip
    image = draw(st.none() | st.builds(Image, st.just("https://img.example/p.jpg"),
                                       st.text(max_size=1024), st.text(max_size=200)))  # fmt: skip
    update = Update(
        id="u1", topic="ukraine", headline=draw(headlines),
        body=draw(st.one_of(texts, long_words))[:10_000],
        link=draw(st.none() | st.just("https://news.example/a_(b)")), image=image,
        breaking=draw(st.booleans()), published_at=datetime(2026, 11, 28, tzinfo=UTC),
    )  # fmt: skip
    return update, topic


_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def visible(markdown: str) -> str:
    """What Discord displays for our Markdown (the model in test_markup_platforms.py)."""
    return "".join(c for c, _, _ in discord_chars(markdown)).replace(ZWSP, "")


def source_text(body: str) -> str:
    """The editor's words as CommonMark reads them, markup removed."""
    return plain_text(parse(body))


def squash(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(updates())
def test_every_payload_passes_the_sandbox_and_shows_the_editors_text(
    case: tuple[Update, TopicConfig],
) -> None:
    update, topic = case
    messages = render(update, topic)
    descriptions = []
    for m in messages:
        validate({**m, "nonce": "x" * 25, "enforce_nonce": True}, CREATE_MESSAGE_FIELDS,
                 message=True)  # fmt: skip
        assert 1 <= len(m["embeds"]) <= 10 and embed_text_total(m["embeds"]) <= 6000
        for e in m["embeds"]:
            for text in (e.get("title", ""), e.get("description", "")):
                # no mention, channel link or @everyone survives in Markdown-rendered text
                assert not re.search(r"(?<!\\)<[@#]|@(everyone|here)", visible_raw(text))
            descriptions.append(e.get("description", ""))
    first = messages[0]["embeds"][0]
    title = visible(first["title"])
    if title.endswith("…") and squash(title) != squash(update.headline):
        assert visible(descriptions[0]).startswith(update.headline.strip()[:10])
        shown = "".join(map(visible, descriptions))  # each embed is read alone
        assert squash(shown).startswith(squash(update.headline))
        shown = shown[len(update.headline.strip()) :]
    else:
        assert squash(title) == squash(update.headline)
        shown = "".join(map(visible, descriptions))  # each embed is read alone
    assert squash(shown) == squash(source_text(update.body))


def visible_raw(markdown: str) -> str:
    """The Markdown with escaped characters removed: what is left could act as syntax."""
    return _ESCAPE.sub("", markdown)


@settings(max_examples=100, deadline=None)
@given(updates())
def test_nothing_ever_pings_everyone(case: tuple[Update, TopicConfig]) -> None:
    update, topic = case
    messages = render(update, topic)
    for m in messages:  # a role belongs to one guild: delivery adds it (test_breaking_roles)
        assert "content" not in m and m["allowed_mentions"] == {"parse": []}
        # Routine updates of a silent topic arrive without a notification; breaking news never.
        assert m.get("flags") == (4096 if topic.silent and not update.breaking else None)


def test_a_silent_topics_breaking_news_still_notifies() -> None:
    quiet = TopicConfig("ukraine", "War in Ukraine", silent=True)
    routine = Update(id="u1", topic="ukraine", headline="Talks resume")
    breaking = Update(id="u2", topic="ukraine", headline="Sirens in Kyiv", breaking=True)
    assert render(routine, quiet)[0]["flags"] == 4096  # SUPPRESS_NOTIFICATIONS
    assert "flags" not in render(breaking, quiet)[0]
