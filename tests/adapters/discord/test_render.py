"""Rendering: the Markdown subset and escaping, the limits, and hypothesis property tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_sandbox.discord.endpoints import CREATE_MESSAGE_FIELDS
from relay_sandbox.discord.validate import embed_text_total, validate

from relay.adapters.discord.markdown import ZWSP, escape_headline, parse
from relay.adapters.discord.render import render
from relay.config import TopicConfig
from relay.model import Image, Update

TOPIC = TopicConfig("ukraine", "War in Ukraine", color=0x0057B7, hashtag="#Ukraine")


def one(body: str, headline: str = "Headline", **kw: object) -> dict[str, object]:
    [payload] = render(Update(id="u", topic="ukraine", headline=headline, body=body, **kw), TOPIC)  # type: ignore[arg-type]
    [embed] = payload["embeds"]
    assert isinstance(embed, dict)
    return embed


def test_the_subset_becomes_discord_markdown() -> None:
    body = "**Bold** and _italic_ and [a link](https://ex.com/a_b).\n\n> A quote with **bold**"
    assert one(body)["description"] == (
        "**Bold** and _italic_ and [a link](https://ex.com/a_b).\n\n> A quote with **bold**"
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
        "[evil](https://evil.example) \\[x\\](javascript:y)"
    )
    assert one("x", headline="**Big** _news_ @everyone")["title"] == (
        f"\\*\\*Big\\*\\* \\_news\\_ @{ZWSP}everyone"
    )


def test_snake_case_and_bare_urls_are_left_readable() -> None:
    # a URL keeps its underscores; a `*` (never in our URLs) is escaped as editor text
    assert one("see snake_case_name at https://ex.com/a_b*c")["description"] == (
        "see snake\\_case\\_name at https://ex.com/a_b\\*c"
    )


def test_photo_credit_hashtag_and_no_body() -> None:
    embed = one("", image=Image("https://img.ex/p.jpg", "", "Reuters"))
    assert "description" not in embed
    assert embed["footer"] == {"text": "Photo: Reuters · #Ukraine"}


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
        silent=draw(st.booleans()), breaking_role_id=draw(st.none() | st.integers(1, 2**62)),
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
# A bare URL as Discord links it inside our Markdown: its emphasis rules match first, so a URL
# never swallows the `**` or `_` that closes the span around it.
_URL = re.compile(r"(?<![0-9A-Za-z])https?://(?:(?!_(?:\*|\s|$))[A-Za-z0-9\-._~:/?#@!$&'()+,;=%])+")


def visible(markdown: str) -> str:
    """What Discord displays for our Markdown: escapes resolved, markup and link targets gone."""
    out: list[str] = []
    i = 0
    while i < len(markdown):
        c = markdown[i]
        url = _URL.match(markdown, i)
        if c == "\\" and i + 1 < len(markdown):
            out.append(markdown[i + 1])
            i += 2
        elif url:
            out.append(url.group())
            i = url.end()
        elif markdown.startswith("](", i):
            i = markdown.index(")", i) + 1  # the link target: not displayed
        elif c in "*_[" or (c == ">" and (i == 0 or markdown[i - 1] == "\n")):
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out).replace(ZWSP, "")


def source_text(body: str) -> str:
    """The editor's words with the subset's markup removed."""
    return "\n".join("".join(s.text for s in line.spans) for line in parse(body))


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
        shown = visible("".join(descriptions))
        assert squash(shown).startswith(squash(update.headline))
        shown = shown[len(update.headline.strip()) :]
    else:
        assert squash(title) == squash(update.headline)
        shown = visible("".join(descriptions))
    assert squash(shown) == squash(source_text(update.body))


def visible_raw(markdown: str) -> str:
    """The Markdown with escaped characters removed: what is left could act as syntax."""
    return _ESCAPE.sub("", markdown)


@settings(max_examples=100, deadline=None)
@given(updates())
def test_nothing_ever_pings_everyone(case: tuple[Update, TopicConfig]) -> None:
    update, topic = case
    messages = render(update, topic)
    role = topic.breaking_role_id
    for i, m in enumerate(messages):
        if i == 0 and update.breaking and role is not None:
            assert m["content"] == f"<@&{role}>"
            assert m["allowed_mentions"] == {"parse": [], "roles": [str(role)]}
        else:
            assert "content" not in m and m["allowed_mentions"] == {"parse": []}
        assert m.get("flags") == (4096 if topic.silent else None)
