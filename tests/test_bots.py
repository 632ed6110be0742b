"""Several bots per platform, end to end: `relay run` with two Telegram and two Discord bots.

A subprocess against the sandboxes (this process, loopback) and the test Valkey. Readers
subscribe through each bot and are answered by it; an editor's command to one bot is answered
by that bot alone; an update posted over the HTTP API reaches every subscriber from its own
bot, exactly once; an edit reaches each copy through the bot that sent it; and each bot spends
its own budget, so the fan-out over two bots goes faster than one bot may (read from the
sandbox's request log, never from a clock).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import yaml
from relay_sandbox.discord.ratelimit import DiscordLimits
from relay_sandbox.discord.server import DiscordSandbox
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import Bot
from relay_sandbox.telegram.server import TelegramSandbox

from relay.config import Config
from relay.keys import Keys
from relay.ledger import Ledger
from relay.model import Destination

from .conftest import BASE_CONFIG
from .helpers import call_api, free_port, start_relay, stop_relay
from .test_busy_hour import settled, until

API_TOKEN = "bots-api-token"
READERS = 8  # through national; through east 6, and the switcher and the group: 8 each
BOT_RATE = 1  # messages a second each bot may send (the relay's budget)
PLATFORM_RATE = 2  # what the sandbox lets a bot send in any second
HEADLINE = "Ferry service resumes"


class Newsroom:
    """Two Telegram bots and two Discord applications, and who subscribes through which."""

    def __init__(self, tg: TelegramSandbox, dc: DiscordSandbox) -> None:
        self.tg, self.dc = tg, dc
        self.national = tg.control.create_bot("national_bot", first_name="National")
        self.east = tg.control.create_bot("east_bot", first_name="East")
        self.editor = tg.control.create_user("Eda", username="eda")
        self.readers = {
            bot.id: [tg.control.create_user(f"Reader {bot.id} {i}") for i in range(n)]
            for bot, n in ((self.national, READERS), (self.east, READERS - 2))
        }
        self.switcher = tg.control.create_user("Sam")  # subscribes through one bot, then the other
        owner = tg.control.create_user("Olga")
        self.group = tg.control.create_chat("supergroup", "East edition", creator=owner.id).id
        for bot in (self.national, self.east):  # both in the group; the config names east
            tg.control.add_bot(self.group, bot)
        self.dc_national = dc.control.create_application("national")
        self.dc_west = dc.control.create_application("west")
        self.owner = dc.control.create_user("olga")
        self.guild = dc.control.create_guild("Newsroom", owner_id=self.owner)
        self.channels: dict[int, int] = {}  # application id → the channel subscribed through it
        for app in (self.dc_national, self.dc_west):
            dc.control.invite_bot(app.application_id, self.guild)
            self.channels[app.application_id] = dc.control.create_channel(
                self.guild, f"live-{app.application_id}"
            )
        self.port = free_port()
        self.proc: asyncio.subprocess.Process | None = None

    def config(self, path: Path, redis_url: str | None) -> Path:
        data: dict[str, Any] = {
            **BASE_CONFIG,
            "redis": {"url": redis_url},
            "editors": {"telegram_users": [self.editor.id], "discord_users": [self.owner]},
            "channels": [{"destination": f"telegram:{self.group}", "topics": ["ukraine"],
                          "bot": "east"}],
            "console": {"enabled": False},
            "api": {"enabled": True, "port": self.port},
            "telegram": {
                "enabled": True, "api_url": self.tg.base_url,
                "budgets": {"global_per_second": BOT_RATE},
                "bots": [{"name": "national", "token_env": "TG_NATIONAL"},
                         {"name": "east", "token_env": "TG_EAST"}],
            },
            "discord": {
                "enabled": True, "api_url": self.dc.api_base, "gateway_url": self.dc.gateway_url,
                "bots": [{"name": "national", "token_env": "DC_NATIONAL"},
                         {"name": "west", "token_env": "DC_WEST"}],
            },
        }  # fmt: skip
        path.write_text(yaml.safe_dump(data))
        return path

    async def start(self, cfg: Path) -> None:
        env = {**os.environ, "TG_NATIONAL": self.national.token, "TG_EAST": self.east.token,
               "DC_NATIONAL": self.dc_national.token, "DC_WEST": self.dc_west.token,
               "RELAY_API_TOKEN": API_TOKEN}  # fmt: skip
        self.proc = await start_relay(cfg, env, self.port, cfg.with_suffix(".log"))

    async def stop(self) -> None:
        await stop_relay(self.proc)

    async def api(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await call_api(self.port, API_TOKEN, method, path, body)

    def said(self, chat: int, bot: Bot) -> list[str]:
        """What `bot` wrote in its private chat with `chat`."""
        return [m.content for m in self.tg.control.transcript(chat, bot=bot, include_deleted=True)
                if m.sender_id == bot.id]  # fmt: skip

    async def subscribe_discord(self, app_id: int) -> str:
        handle = self.dc.control.invoke(
            app_id, self.guild, self.channels[app_id], self.owner, "subscribe", {"topic": "ukraine"}
        )
        done = await handle.wait(lambda r: r.original is not None, within=20)
        assert done.original is not None
        return done.original.content


@pytest.fixture
async def newsroom() -> AsyncIterator[Newsroom]:
    limits = TelegramLimits(global_per_second=PLATFORM_RATE)
    async with TelegramSandbox(limits=limits) as tg, DiscordSandbox(limits=DiscordLimits()) as dc:
        world = Newsroom(tg, dc)
        try:
            yield world
        finally:
            await world.stop()


@pytest.mark.pace
@pytest.mark.timeout(300)
async def test_each_bot_serves_its_own_subscribers_answers_its_commands_and_spends_its_budget(
    newsroom: Newsroom, tmp_path: Path, config: Config, client: aioredis.Redis
) -> None:
    n, tg, dc = newsroom, newsroom.tg, newsroom.dc
    await n.start(n.config(tmp_path / "relay.yaml", config.redis.url))
    bots = {n.national.id: n.national, n.east.id: n.east}
    # Readiness names each bot.
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{n.port}/readyz") as r,
    ):
        components = (await r.json())["components"]
    assert {"telegram:national", "telegram:east", "discord:national", "discord:west"} <= set(
        components
    ), components

    # Readers subscribe through each bot; one of them through national, then through east.
    for bot_id, readers in n.readers.items():
        for reader in readers:
            tg.control.send_message(reader.id, "/subscribe ukraine", bot=bots[bot_id])
    tg.control.send_message(n.switcher.id, "/subscribe ukraine", bot=n.national)

    async def answered() -> bool:
        return all(any(r.startswith("Subscribed") for r in n.said(reader.id, bots[bot_id]))
                   for bot_id, readers in n.readers.items() for reader in readers) and any(
            r.startswith("Subscribed") for r in n.said(n.switcher.id, n.national))  # fmt: skip

    await until(answered, within=60)
    tg.control.send_message(n.switcher.id, "/subscribe ukraine", bot=n.east)
    await until(lambda: _true(any(r.startswith("Already") for r in n.said(n.switcher.id, n.east))),
                within=60)  # fmt: skip
    # Each answer came from the bot the reader wrote to, and from no other.
    for bot_id, readers in n.readers.items():
        other = n.east if bot_id == n.national.id else n.national
        for reader in readers:
            assert n.said(reader.id, other) == []
    # A Discord channel subscribed through each application, answered by that application.
    for app in (n.dc_national, n.dc_west):
        assert "Subscribed to" in await n.subscribe_discord(app.application_id)

    # An editor's command to east is answered by east; national says nothing.
    tg.control.send_message(n.editor.id, "/topics", bot=n.east)
    await until(lambda: _true(n.said(n.editor.id, n.east) != []), within=60)
    assert n.said(n.editor.id, n.national) == []

    # The CMS posts an update (over the API: no editor's progress message spends east's budget).
    posted = await n.api("POST", "/updates", {"topic": "ukraine", "headline": HEADLINE,
                                              "body": "From noon."})  # fmt: skip
    update_id = posted["id"]
    await until(lambda: settled(client, [update_id]), within=120)

    # Every subscriber has the update once, from its own bot; the other bot sent it nothing.
    # The switcher's latest subscription (east) wins; the group is east's by the config.
    expected = {r.id: bot_id for bot_id, readers in n.readers.items() for r in readers}
    expected |= {n.switcher.id: n.east.id, n.group: n.east.id}
    sends = [r for r in tg.control.requests("sendMessage")
             if r.status == 200 and HEADLINE in str(r.params.get("text"))]  # fmt: skip
    assert sorted((int(r.params["chat_id"]), r.bot_id) for r in sends) == sorted(expected.items())
    for chat, bot_id in expected.items():
        if chat > 0:
            other = n.east if bot_id == n.national.id else n.national
            assert [t for t in n.said(chat, bots[bot_id]) if HEADLINE in t] != []
            assert [t for t in n.said(chat, other) if HEADLINE in t] == []
    # Discord: each channel's copy is written by the application it subscribed through.
    for app in (n.dc_national, n.dc_west):
        shown = dc.control.transcript(n.channels[app.application_id])
        ours = [m for m in shown if HEADLINE in m.embeds_json]
        assert [m.author_id for m in ours] == [app.bot_user_id]
    # The ledger remembers which bot sent each copy.
    copies = await Ledger(client, Keys(), 3600).copies(update_id)
    names = {n.national.id: "national", n.east.id: "east"}
    assert {d: c.bot for d, c in copies.items() if d.platform == "telegram"} == {
        Destination("telegram", str(chat)): names[bot_id] for chat, bot_id in expected.items()
    }

    # Each bot kept to its own budget of 1 a second: its 8 sends took at least 7 s, and no
    # request met a 429. Yet the two together went faster than one such budget allows: some
    # two sends came well under a second apart. (Read from the sandbox's stamps; a busy
    # machine only spreads sends out, and one shared budget never puts two within 1 s.)
    assert [r for r in tg.control.requests() if r.status == 429] == []
    for bot_id in bots:
        own = sorted(r.at for r in sends if r.bot_id == bot_id)
        assert len(own) == READERS and own[-1] - own[0] >= (READERS - 1) / BOT_RATE * 0.9
        key = Keys().budget(f"telegram:{bot_id}:global")  # each bot's own key in Redis
        assert await client.exists(key), key
    every = sorted(r.at for r in sends)
    assert min(b - a for a, b in itertools.pairwise(every)) < 0.75 / BOT_RATE

    # An edit over the API reaches every copy through the bot that sent it.
    await n.api("PATCH", f"/updates/{update_id}", {"headline": HEADLINE + " at last"})
    await until(lambda: settled(client, [update_id]), within=120)
    edits = [r for r in tg.control.requests("editMessageText")
             if r.status == 200 and "at last" in str(r.params.get("text"))]  # fmt: skip
    assert sorted((int(r.params["chat_id"]), r.bot_id) for r in edits) == sorted(expected.items())
    for app in (n.dc_national, n.dc_west):
        shown = dc.control.transcript(n.channels[app.application_id])
        ours = [m for m in shown if HEADLINE in m.embeds_json]
        assert len(ours) == 1 and "at last" in ours[0].embeds_json
        assert ours[0].author_id == app.bot_user_id and ours[0].edited_at is not None
    patches = [r for r in dc.control.requests() if r.method == "PATCH" and r.status == 200
               and "/channels/" in r.path and "/messages/" in r.path]  # fmt: skip
    assert sorted(r.bot_id for r in patches) == sorted(
        a.bot_user_id for a in (n.dc_national, n.dc_west)
    )


async def _true(value: bool) -> bool:
    return value
