"""Gateway behaviour seen by a real discord.Client: RESUME, INVALID_SESSION, guild events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp
import discord
from relay_sandbox.discord import DiscordSandbox
from relay_sandbox.discord.wiring import running_client

from tests.sandbox.discord.conftest import Newsroom


def _record(client: discord.Client, event: str) -> list[tuple[object, ...]]:
    """Collect the arguments of every `event` (e.g. "on_resumed") the client dispatches."""
    seen: list[tuple[object, ...]] = []

    async def handler(*args: object) -> None:
        seen.append(args)

    handler.__name__ = event
    client.event(handler)
    return seen


async def _until(check: Callable[[], bool], within: float = 5.0) -> None:
    """Poll a condition on the event loop (the assertions that follow say what was expected)."""
    for _ in range(int(within / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)


async def test_disconnect_then_resume_replays_missed_events(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    resumed = _record(bot_client, "on_resumed")
    control = sandbox.control
    assert await control.disconnect_gateway(newsroom.bot.application_id) == 1
    new_channel = control.create_channel(newsroom.guild_id, "created-while-away")
    await _until(lambda: bool(resumed))
    assert resumed == [()]
    await _until(lambda: bot_client.get_channel(new_channel) is not None)
    assert bot_client.get_channel(new_channel) is not None
    assert sandbox.hub.identify_count == 1  # resumed, not re-identified
    live = bot_client.get_partial_messageable(newsroom.live_id)
    await live.send("after resume")
    assert control.transcript(newsroom.live_id)[-1].content == "after resume"


async def test_unknown_session_is_invalidated_and_client_identifies_again(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every non-initial IDENTIFY; not needed on loopback."""

    bot_client.before_identify_hook = no_identify_delay  # type: ignore[method-assign]
    await sandbox.control.disconnect_gateway(newsroom.bot.application_id, resumable=False)
    await _until(lambda: sandbox.hub.identify_count == 2 and bot_client.is_ready())
    assert sandbox.hub.identify_count == 2
    await _until(lambda: bot_client.get_channel(newsroom.live_id) is not None)
    assert bot_client.get_channel(newsroom.live_id) is not None


async def test_removed_bot_gets_guild_delete_then_missing_access(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    removed = _record(bot_client, "on_guild_remove")
    sandbox.control.remove_bot(newsroom.bot.application_id, newsroom.guild_id)
    await _until(lambda: bool(removed))
    assert [g.id for (g,) in removed] == [newsroom.guild_id]  # type: ignore[attr-defined]
    assert bot_client.get_guild(newsroom.guild_id) is None
    try:
        await bot_client.get_partial_messageable(newsroom.live_id).send("x")
    except discord.Forbidden as exc:
        assert exc.code == 50001
    else:
        raise AssertionError("a removed bot must not be able to post")


async def test_channel_delete_and_update_events(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    deleted = _record(bot_client, "on_guild_channel_delete")
    guild = bot_client.get_guild(newsroom.guild_id)
    assert guild is not None and guild.me is not None
    sandbox.control.set_overwrite(
        newsroom.live_id, newsroom.guild_id, deny=discord.Permissions(view_channel=True).value
    )
    live = guild.get_channel(newsroom.live_id)
    await _until(lambda: live is not None and not live.permissions_for(guild.me).view_channel)
    assert live is not None and not live.permissions_for(guild.me).view_channel
    sandbox.control.delete_channel(newsroom.news_id)
    await _until(lambda: bool(deleted))
    assert [c.id for (c,) in deleted] == [newsroom.news_id]  # type: ignore[attr-defined]
    assert bot_client.get_channel(newsroom.news_id) is None
    assert guild.get_thread(newsroom.thread_id) is not None
    sandbox.control.delete_channel(newsroom.thread_id)
    await _until(lambda: guild.get_thread(newsroom.thread_id) is None)
    assert guild.get_thread(newsroom.thread_id) is None
    assert len(deleted) == 1  # a thread's deletion is THREAD_DELETE, not CHANNEL_DELETE


async def test_message_create_reaches_bots_and_content_needs_the_intent(
    sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    sandbox.control.set_message_content(newsroom.bot.application_id, True)
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    seen = _record(client, "on_message")
    async with running_client(client, newsroom.bot.token) as c:
        await c.get_partial_messageable(newsroom.live_id).send("hello readers")
        await _until(lambda: bool(seen))
    assert [m.content for (m,) in seen] == ["hello readers"]  # type: ignore[attr-defined]

    # a second bot without MESSAGE_CONTENT sees the message but not its text
    other = sandbox.control.create_application("listener")
    sandbox.control.invite_bot(other.application_id, newsroom.guild_id)
    listener = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    quiet = _record(listener, "on_message")
    async with running_client(listener, other.token):
        async with running_client(
            discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05),
            newsroom.bot.token,
        ) as poster:
            await poster.get_partial_messageable(newsroom.live_id).send("secret text")
        await _until(lambda: bool(quiet))
    assert [m.content for (m,) in quiet] == [""]  # type: ignore[attr-defined]


async def test_raw_protocol_hello_heartbeat_and_bad_intents(
    sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(
            sandbox.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
        ) as ws:
            hello = json.loads((await ws.receive()).data)
            assert hello == {"op": 10, "d": {"heartbeat_interval": 41250}}
            await ws.send_str(json.dumps({"op": 1, "d": None}))
            assert json.loads((await ws.receive()).data) == {"op": 11, "d": None}
            await ws.send_str(
                json.dumps(
                    {
                        "op": 2,
                        "d": {"token": newsroom.bot.token, "intents": 1 << 23, "properties": {}},
                    }
                )
            )
            closing = await ws.receive()
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4013
        async with session.ws_connect(sandbox.gateway_url) as ws:
            await ws.receive()
            await ws.send_str(
                json.dumps(
                    {"op": 6, "d": {"token": newsroom.bot.token, "session_id": "nope", "seq": 3}}
                )
            )
            assert json.loads((await ws.receive()).data) == {"op": 9, "d": False}
            await ws.send_str(
                json.dumps(
                    {"op": 2, "d": {"token": newsroom.bot.token, "intents": 513, "properties": {}}}
                )
            )
            ready = json.loads((await ws.receive()).data)
            assert (ready["op"], ready["t"], ready["s"]) == (0, "READY", 1)
            assert ready["d"]["resume_gateway_url"] == sandbox.gateway_url
            assert ready["d"]["guilds"] == [{"id": str(newsroom.guild_id), "unavailable": True}]
            guild = json.loads((await ws.receive()).data)
            assert (guild["t"], guild["s"]) == ("GUILD_CREATE", 2)
            assert {c["id"] for c in guild["d"]["channels"]} >= {str(newsroom.live_id)}
            assert guild["d"]["threads"][0]["id"] == str(newsroom.thread_id)
