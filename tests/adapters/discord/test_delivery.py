"""Delivery through a real discord.Client against the sandbox: parts, nonces, edits, deletes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from relay_sandbox.discord import DiscordLimits, DiscordSandbox

from relay.adapter import AdapterContext
from relay.adapters.discord import DiscordAdapter
from relay.adapters.discord.delivery import nonce
from relay.budgets import Budgets
from relay.config import Config
from relay.errors import Transient
from relay.model import Action, Destination, Image, Update
from tests.adapters.discord.conftest import make_adapter
from tests.sandbox.discord.conftest import Newsroom

LONG = "\n\n".join(f"Paragraph {i}: " + "word " * 300 for i in range(8))  # ~12,000 characters


def dest(channel_id: int) -> Destination:
    return Destination("discord", str(channel_id))


def update(body: str = "The **dam** was breached at _dawn_.", **kw: object) -> Update:
    fields: dict[str, object] = {"id": "u1", "topic": "ukraine", "headline": "Dam breached",
                                 "body": body, "link": "https://news.example/dam"}  # fmt: skip
    fields.update(kw)
    return Update(**fields)  # type: ignore[arg-type]


async def test_send_one_embed_with_everything(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    u = update(image=Image("https://img.example/dam.jpg", "The dam at dawn", "AP"))
    ids = await adapter.send(dest(newsroom.live_id), u, topic)
    [view] = sandbox.control.transcript(newsroom.live_id)
    assert ids == (str(view.id),)
    [embed] = view.embeds
    assert embed["title"] == "Dam breached" and embed["url"] == "https://news.example/dam"
    assert embed["description"] == "The **dam** was breached at *dawn*."
    assert embed["author"] == {"name": "War in Ukraine"}
    assert embed["footer"] == {"text": "The dam at dawn · Photo: AP · #Ukraine"}
    assert embed["image"] == {"url": "https://img.example/dam.jpg"}
    assert embed["color"] == 0x0057B7 and embed["timestamp"] == u.published_at.isoformat()
    assert view.nonce == nonce(u, dest(newsroom.live_id), 0) and len(str(view.nonce)) <= 25
    [request] = sandbox.control.requests("create_message")
    assert request.body["enforce_nonce"] is True
    assert request.body["allowed_mentions"] == {"parse": []}
    assert not view.pings_everyone and view.pinged_roles == ()


async def test_a_retry_after_a_lost_answer_never_duplicates(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    d = dest(newsroom.live_id)
    long = update(body=LONG)
    sandbox.control.lose_next_answer("create_message", count=1)
    with pytest.raises(Transient):
        await adapter.send(d, long, topic)  # part 1 was created, its answer lost
    assert len(sandbox.control.transcript(newsroom.live_id)) == 1
    ids = await adapter.send(d, long, topic)  # the dispatcher's retry
    views = sandbox.control.transcript(newsroom.live_id)
    assert [str(v.id) for v in views] == list(ids) and len(ids) == len(adapter.render(long, topic))
    statuses = [r.status for r in sandbox.control.requests("create_message")]
    assert statuses[0] == 0 and set(statuses[1:]) == {200}
    # a new revision is a new nonce: an edit that adds parts creates them
    rev2 = dataclasses.replace(long, revision=2, action=Action.EDIT)
    assert nonce(rev2, d, 0) != nonce(long, d, 0)


async def test_edit_resends_a_part_someone_deleted(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    d = dest(newsroom.live_id)
    first = update()
    [mid] = await adapter.send(d, first, topic)
    sandbox.world.channel_messages(newsroom.live_id)[int(mid)].deleted = True  # a moderator
    fixed = dataclasses.replace(first, headline="Dam breached (updated)", revision=2,
                                action=Action.EDIT)  # fmt: skip
    [new] = await adapter.edit(d, fixed, topic, (mid,))
    assert new != mid
    [view] = sandbox.control.transcript(newsroom.live_id, include_deleted=False)
    assert view.embeds[0]["title"] == "Dam breached (updated)"


async def test_announcement_copies_are_crossposted_within_the_hourly_limit(
    discord_config: Config, sandbox: DiscordSandbox, newsroom: Newsroom, client: aioredis.Redis
) -> None:

    topic = discord_config.topic("ukraine")
    assert topic is not None
    # Discord's crosspost bucket (10 an hour) resets only after an hour: the main client, with
    # max_ratelimit_timeout, would refuse the second crosspost before even sending it
    sandbox.limits = DiscordLimits()
    adapter = make_adapter(discord_config, crosspost_per_hour=2)  # 1 now, the next in 30 min
    await adapter.start(AdapterContext(budgets=Budgets(client)))
    try:
        d = dest(newsroom.news_id)
        for i in range(3):
            await adapter.send(d, update(id=f"u{i}"), topic)
    finally:
        await adapter.aclose()
    views = sandbox.control.transcript(newsroom.news_id)
    assert [v.crossposted for v in views] == [True, False, False]  # the others wait for no one
    assert len(sandbox.control.requests("crosspost_message")) == 1


async def test_a_relay_that_stops_lets_the_crossposts_in_flight_finish(
    discord_config: Config, sandbox: DiscordSandbox, newsroom: Newsroom, client: aioredis.Redis
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    # the crosspost is held by a 429 for half a second: the adapter closes while it waits
    sandbox.control.fail_next("crosspost_message", status=429, retry_after=0.5)
    adapter = make_adapter(discord_config)
    await adapter.start(AdapterContext(budgets=Budgets(client)))
    try:
        await adapter.send(dest(newsroom.news_id), update(), topic)
    finally:
        await adapter.aclose()
    [view] = sandbox.control.transcript(newsroom.news_id)
    assert view.crossposted
    assert len(sandbox.control.requests("crosspost_message")) == 2  # the 429, then the retry


async def test_a_refused_crosspost_does_not_fail_the_delivery(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    sandbox.control.fail_next("crosspost_message", status=403, code=50013)
    ids = await adapter.send(dest(newsroom.news_id), update(), topic)
    await adapter.delivery.settle()
    [view] = sandbox.control.transcript(newsroom.news_id)
    assert ids == (str(view.id),) and not view.crossposted


async def test_forum_channels_get_one_post_per_topic(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    ukraine, climate = discord_config.topic("ukraine"), discord_config.topic("climate")
    assert ukraine is not None and climate is not None
    d = dest(newsroom.forum_id)
    first = await adapter.send(d, update(id="a"), ukraine)
    second = await adapter.send(d, update(id="b", headline="Second"), ukraine)
    other = await adapter.send(d, update(id="c", topic="climate"), climate)
    posts = [c for c in sandbox.world.channels.values() if c.parent_id == newsroom.forum_id]
    assert sorted(p.name for p in posts) == ["Climate summit · live updates",
                                             "War in Ukraine · live updates"]  # fmt: skip
    thread = next(p for p in posts if p.name.startswith("War"))
    assert first[0].startswith(f"{thread.id}:") and second[0].startswith(f"{thread.id}:")
    assert not other[0].startswith(f"{thread.id}:")
    views = sandbox.control.transcript(thread.id)
    assert [v.embeds[0].get("title") for v in views] == ["War in Ukraine", "Dam breached", "Second"]
    fixed = dataclasses.replace(update(id="b", headline="Second, fixed"), revision=2,
                                action=Action.EDIT)  # fmt: skip
    assert await adapter.edit(d, fixed, ukraine, second) == second
    assert sandbox.control.transcript(thread.id)[-1].embeds[0]["title"] == "Second, fixed"
    await adapter.delete(d, first)
    assert sandbox.control.transcript(thread.id)[1].deleted

    # another worker (or a restart) finds the post in the gateway's cache: no second post

    other = make_adapter(discord_config)
    await other.start(AdapterContext())
    try:
        later = await other.send(d, update(id="d"), ukraine)
    finally:
        await other.aclose()
    assert later[0].startswith(f"{thread.id}:")
    assert (
        len([c for c in sandbox.world.channels.values() if c.parent_id == newsroom.forum_id]) == 2
    )


async def test_forum_posts_per_day(
    discord_config: Config, sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:

    topic = discord_config.topic("ukraine")
    assert topic is not None
    adapter = make_adapter(discord_config, forum_threads="day")
    await adapter.start(AdapterContext())
    try:
        for day in (1, 1, 2):
            when = datetime(2026, 11, day, 12, tzinfo=UTC)
            await adapter.send(dest(newsroom.forum_id), update(id=f"d{day}", published_at=when),
                               topic)  # fmt: skip
    finally:
        await adapter.aclose()
    posts = [c.name for c in sandbox.world.channels.values() if c.parent_id == newsroom.forum_id]
    assert posts == ["War in Ukraine · 2026-11-01", "War in Ukraine · 2026-11-02"]


async def test_breaking_news_pings_only_the_topic_role_and_silent_topics_do_not_notify(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    role = sandbox.control.create_role(newsroom.guild_id, "ukraine-alerts", mentionable=True)
    topic = dataclasses.replace(discord_config.topic("ukraine"),  # type: ignore[type-var]
                                breaking_roles=((newsroom.guild_id, role),))  # fmt: skip
    await adapter.send(dest(newsroom.live_id), update(headline="@everyone run", breaking=True),
                       topic)  # fmt: skip
    [view] = sandbox.control.transcript(newsroom.live_id)
    assert view.content == f"<@&{role}>" and view.pinged_roles == (role,)
    assert not view.pings_everyone
    assert view.embeds[0]["author"]["name"] == "🔴 BREAKING · War in Ukraine"
    climate = discord_config.topic("climate")
    assert climate is not None and climate.silent
    await adapter.send(dest(newsroom.live_id), update(id="c", topic="climate"), climate)
    assert sandbox.control.requests("create_message")[-1].body["flags"] == 1 << 12
