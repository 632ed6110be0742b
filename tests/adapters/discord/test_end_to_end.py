"""The whole relay with the Discord adapter: slash commands in, embeds out, in the sandbox."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis
from relay_sandbox.discord import DiscordSandbox, InteractionHandle

from relay.adapter import AdapterContext
from relay.app import Relay
from relay.config import Config
from relay.model import Destination, Update
from tests.adapters.discord.conftest import make_adapter
from tests.adapters.discord.test_commands import Member, posts, text
from tests.helpers import Pipeline
from tests.sandbox.discord.conftest import Newsroom


async def test_subscribe_post_edit_through_the_running_relay(
    discord_config: Config,
    sandbox: DiscordSandbox,
    newsroom: Newsroom,
    editor_id: int,
    client: aioredis.Redis,
) -> None:
    owner = Member(sandbox, newsroom, newsroom.owner_id)
    editor = Member(sandbox, newsroom, editor_id)
    async with Relay(discord_config, adapters=[make_adapter(discord_config)]) as relay:
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))
        try:
            assert text(await owner.run("subscribe", {"topic": "ukraine"})).startswith("Subscribed")
            await editor.open("post", {"topic": "ukraine"})
            posted = await editor.submit("relay:post", {
                "topic": "ukraine", "headline": "Dam breached",
                "body": "Water **everywhere**.\n\n> Residents told to leave", "link": "",
                "image": "",
            })  # fmt: skip
            assert posted.original is not None and posted.original.interaction_id is not None
            handle = InteractionHandle(
                sandbox.world, sandbox.world.interactions[posted.original.interaction_id]
            )
            done = await handle.wait(
                lambda r: bool(r.followups) and r.followups[0].content.endswith("(done)"),
                within=15.0,
            )
            assert done.followups[0].content == "Delivery: delivered 1 / 1 · 0 failed (done)"
        finally:
            stop.set()
            await running
    [view] = posts(sandbox, newsroom.live_id)
    [embed] = view.embeds
    assert embed["title"] == "Dam breached"
    assert embed["description"] == "Water **everywhere**.\n\n> Residents told to leave"
    assert embed["author"] == {"name": "War in Ukraine"} and not view.pings_everyone


async def test_a_channel_the_bot_cannot_post_in_is_unsubscribed_with_the_reason_logged(
    discord_config: Config,
    sandbox: DiscordSandbox,
    newsroom: Newsroom,
    client: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    adapter = make_adapter(discord_config)
    await adapter.start(AdapterContext())
    try:
        pipeline = Pipeline(client, discord_config, adapters=[adapter])
        readonly = Destination("discord", str(newsroom.readonly_id))
        live = Destination("discord", str(newsroom.live_id))
        await pipeline.subs.subscribe(readonly, ["ukraine"])
        await pipeline.subs.subscribe(live, ["ukraine"])
        with caplog.at_level(logging.WARNING, logger="relay.sync"):
            await pipeline.ingest.publish(Update(id="u1", topic="ukraine", headline="Dam"))
            await pipeline.drain()
    finally:
        await adapter.aclose()
    assert await pipeline.subs.topics(readonly) == []
    assert await pipeline.subs.topics(live) == ["ukraine"]
    assert len(posts(sandbox, newsroom.live_id)) == 1
    assert "the bot lacks Send Messages, Embed Links" in caplog.text
