"""Discord copies as a reader sees them: URIs Discord takes, the breaking role of the copy's own
guild only, the byline and credit, /help in slash-command syntax, a multi-part copy resumed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from hypothesis import example, given
from hypothesis import strategies as st
from relay_sandbox.discord import DiscordSandbox
from relay_sandbox.discord.validate import url_error

from relay.adapter import AdapterContext
from relay.adapters.discord import DiscordAdapter
from relay.adapters.discord.render import render, with_role
from relay.config import Config
from relay.errors import RateLimited
from relay.links import canonical_url
from relay.model import Destination, Image, Update
from tests.adapters.discord.conftest import make_adapter
from tests.adapters.discord.test_commands import Member, text
from tests.sandbox.discord.conftest import Newsroom


def dest(channel_id: int) -> Destination:
    return Destination("discord", str(channel_id))


async def test_links_and_photos_go_out_percent_encoded_with_an_idna_host(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    u = Update("kyiv", "ukraine", headline="Kyiv", link="https://пример.рф/wiki/Киев",
               image=Image('https://img.example/a"b<c>|d.jpg'))  # fmt: skip
    [mid] = await adapter.send(dest(newsroom.live_id), u, topic)
    [view] = sandbox.control.transcript(newsroom.live_id)
    assert str(view.id) == mid
    embed = view.embeds[0]
    assert embed["url"] == "https://xn--e1afmkfd.xn--p1ai/wiki/%D0%9A%D0%B8%D0%B5%D0%B2"
    assert embed["image"] == {"url": "https://img.example/a%22b%3Cc%3E%7Cd.jpg"}


@example("a#b#c")
@example('wiki/Киев"<>| x')
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_every_url_the_renderer_writes_is_a_uri_discord_takes(tail: str) -> None:
    url = canonical_url("https://example.org/" + tail)
    assert url is None or url_error(url) is None, url


async def test_the_breaking_role_is_pinged_only_in_its_own_guild(
    discord_config: Config, sandbox: DiscordSandbox, newsroom: Newsroom,
    make_config: Callable[..., Config], client: aioredis.Redis,
) -> None:  # fmt: skip
    c = sandbox.control
    alerts = c.create_role(newsroom.guild_id, "ukraine-alerts", mentionable=True)
    partner = c.create_guild("Partner paper")
    c.invite_bot(newsroom.bot.application_id, partner)
    partner_role = c.create_role(partner, "breaking", mentionable=True)
    partner_live = c.create_channel(partner, "live")
    other = c.create_guild("No role configured")
    c.invite_bot(newsroom.bot.application_id, other)
    other_live = c.create_channel(other, "live")
    roles = {str(newsroom.guild_id): alerts, partner: partner_role}
    topics = make_config(topics=[{"slug": "ukraine", "title": "War in Ukraine",
                                  "breaking_roles": roles}]).topics  # fmt: skip
    config = dataclasses.replace(discord_config, topics=topics)
    topic = config.topic("ukraine")
    assert topic is not None
    adapter = make_adapter(config)
    await adapter.start(AdapterContext())
    try:
        update = Update("b1", "ukraine", headline="Dam breached", breaking=True)
        for channel in (newsroom.live_id, partner_live, other_live):
            await adapter.send(dest(channel), update, topic)
        calm = Update("c1", "ukraine", headline="Water recedes")
        await adapter.send(dest(newsroom.live_id), calm, topic)
    finally:
        await adapter.aclose()
    [here, quiet] = c.transcript(newsroom.live_id)
    [there] = c.transcript(partner_live)
    [elsewhere] = c.transcript(other_live)
    assert (here.content, here.pinged_roles, here.shown) == (
        f"<@&{alerts}>",
        (alerts,),
        "@ukraine-alerts",
    )
    assert (there.content, there.pinged_roles, there.shown) == (
        f"<@&{partner_role}>",
        (partner_role,),
        "@breaking",
    )
    assert (elsewhere.content, elsewhere.pinged_roles) == ("", ())  # no @deleted-role
    assert (quiet.content, quiet.pinged_roles) == ("", ())  # not breaking: no ping


def test_with_role_never_changes_the_rendered_payloads() -> None:
    from relay.config import TopicConfig

    topic = TopicConfig("ukraine", "War in Ukraine", breaking_roles=((1, 2),))
    payloads = tuple(render(Update("u", "ukraine", headline="H", breaking=True), topic))
    assert "content" not in payloads[0]
    [first] = with_role(payloads, topic.breaking_role(1))
    assert first["content"] == "<@&2>" and first["allowed_mentions"] == {
        "parse": [],
        "roles": ["2"],
    }
    assert "content" not in payloads[0] and with_role(payloads, topic.breaking_role(3)) == payloads


async def test_byline_and_credit_are_shown_once(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    for i, credit in enumerate(("Photo: AP", "AP", "© Reuters")):
        u = Update(f"p{i}", "ukraine", headline="Dam", author="Jane Doe",
                   image=Image("https://img.example/d.jpg", "The dam", credit))  # fmt: skip
        await adapter.send(dest(newsroom.live_id), u, topic)
    footers = [v.embeds[0]["footer"]["text"] for v in sandbox.control.transcript(newsroom.live_id)]
    assert footers == [
        "By Jane Doe · The dam · Photo: AP · #Ukraine",
        "By Jane Doe · The dam · Photo: AP · #Ukraine",
        "By Jane Doe · The dam · © Reuters · #Ukraine",
    ]


async def test_help_shows_the_slash_commands(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, editor_id: int
) -> None:
    reader = text(await Member(sandbox, newsroom, newsroom.reader_id).run("help"))
    assert "/subscribe topic:" in reader and "/unsubscribe topic:" in reader
    assert "<topic> [<topic>…]" not in reader and "Editors:" not in reader
    editor = text(await Member(sandbox, newsroom, editor_id).run("help"))
    assert (
        "/post [topic] [breaking] [photo]: opens a form" in editor and "/edit id [photo]:" in editor
    )
    assert "<headline>" not in editor  # Telegram's text syntax


async def test_a_429_on_part_2_is_resumed_with_parts_2_and_3_only(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    body = "\n\n".join(f"Paragraph {i}: " + "word " * 300 for i in range(8))  # ~12,000 chars
    u = Update("long", "ukraine", headline="Long read", body=body)
    assert len(adapter.render(u, topic)) == 3
    # a 429 longer than discord.py waits (max_ratelimit_wait 30 s) on the second part
    sandbox.control.fail_next("create_message", status=429, retry_after=60, after=1)
    with pytest.raises(RateLimited) as cut:
        await adapter.send(dest(newsroom.live_id), u, topic)
    assert cut.value.retry_after == pytest.approx(60) and cut.value.sent is not None
    [first] = cut.value.sent
    assert [str(v.id) for v in sandbox.control.transcript(newsroom.live_id)] == [first]

    ids = await adapter.send(dest(newsroom.live_id), u, topic, sent=cut.value.sent)
    assert len(ids) == 3 and ids[0] == first
    views = sandbox.control.transcript(newsroom.live_id)
    assert [str(v.id) for v in views] == list(ids) and not any(v.deleted for v in views)
    assert [r.status for r in sandbox.control.requests("create_message")] == [200, 429, 200, 200]
