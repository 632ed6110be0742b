"""Injected faults (5xx, slow, dropped connections, gateway drops) and the transcript events."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
import discord
import pytest
from relay_sandbox.discord import DiscordSandbox, FaultRates, TranscriptEvent
from relay_sandbox.discord.wiring import running_client

from tests.sandbox.discord.conftest import Newsroom


async def test_rate_based_faults_over_raw_http(sandbox: DiscordSandbox, newsroom: Newsroom) -> None:
    url = f"{sandbox.api_base}/channels/{newsroom.live_id}/messages"
    auth = {"Authorization": f"Bot {newsroom.bot.token}"}
    control = sandbox.control
    async with aiohttp.ClientSession() as http:
        control.set_faults(FaultRates(server_error=1.0))
        async with http.post(url, json={"content": "x"}, headers=auth) as r:
            assert r.status == 500
            assert await r.json() == {"message": "500: Internal Server Error", "code": 0}
        control.set_faults(FaultRates(drop=1.0))
        with pytest.raises(aiohttp.ClientError):
            async with http.post(url, json={"content": "x"}, headers=auth) as r:
                await r.read()
        control.set_faults(FaultRates(slow=1.0, slow_seconds=0.05))
        async with http.post(url, json={"content": "slow but fine"}, headers=auth) as r:
            assert r.status == 200
        control.clear_faults()
    assert [v.content for v in control.transcript(newsroom.live_id)] == ["slow but fine"]
    assert [r.status for r in control.requests("create_message")] == [500, 0, 200]  # 0: dropped


async def test_fault_rates_are_seeded_and_repeatable(sandbox: DiscordSandbox) -> None:
    def pattern() -> list[bool]:
        sandbox.faults.set_rates(FaultRates(server_error=0.5, seed=7))
        return [sandbox.faults.decide("create_message", None).server_error for _ in range(40)]

    first = pattern()
    assert first == pattern() and any(first) and not all(first)


async def test_discord_py_retries_a_scripted_502(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    sandbox.control.fail_next("create_message", status=502, message="502: Bad Gateway")
    await bot_client.get_partial_messageable(newsroom.live_id).send(
        "made it"
    )  # sleeps 1 s, retries
    assert [r.status for r in sandbox.control.requests("create_message")] == [502, 200]


async def test_random_gateway_drops_are_resumed(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    control = sandbox.control
    control.set_faults(FaultRates(gateway_drop=1.0))
    new_channel = control.create_channel(newsroom.guild_id, "during-a-drop")
    control.set_faults(FaultRates())
    for _ in range(500):
        if bot_client.get_channel(new_channel) is not None:
            break
        await asyncio.sleep(0.01)
    assert bot_client.get_channel(new_channel) is not None
    assert sandbox.hub.identify_count == 1
    (session,) = sandbox.hub.sessions.values()
    sent = [frame["t"] for frame in session.buffer]
    assert sent.index("CHANNEL_CREATE") < sent.index("RESUMED")  # dropped, then replayed


async def test_events_stream_created_edited_deleted_crossposted(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    seen: list[TranscriptEvent] = []

    async def collect() -> None:
        async for event in sandbox.control.events():
            seen.append(event)
            if len(seen) == 4:
                return

    task = asyncio.create_task(collect())
    await asyncio.sleep(0)  # let the subscriber register before anything happens
    news = bot_client.get_partial_messageable(newsroom.news_id)
    msg = await news.send("Dam breached")
    await msg.edit(content="Dam breached near Kherson")
    await msg.publish()
    await msg.delete()
    await asyncio.wait_for(task, 5)
    assert [(e.kind, e.channel_id) for e in seen] == [
        ("created", newsroom.news_id),
        ("edited", newsroom.news_id),
        ("crossposted", newsroom.news_id),
        ("deleted", newsroom.news_id),
    ]
    assert seen[1].message.content == "Dam breached near Kherson"
    assert seen[0].message.content == "Dam breached"  # events are snapshots, not live objects
    with pytest.raises(dataclasses.FrozenInstanceError):
        seen[0].message.content = "changed"  # type: ignore[misc]


async def test_auto_sharded_client_uses_gateway_bot(
    sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    client = discord.AutoShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with running_client(client, newsroom.bot.token) as c:
        assert c.get_channel(newsroom.live_id) is not None
        assert c.shard_count == 1
    assert [r.endpoint for r in sandbox.control.requests("get_gateway_bot")] == ["get_gateway_bot"]
