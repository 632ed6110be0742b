"""A newsroom's busy hour, replayed end to end, then every chat read as its readers see it.

Two `relay run` workers (subprocesses, the test Valkey) against the Telegram and Discord
sandboxes (this process, loopback), driven the ways a newsroom drives them: 100 readers typing
`/subscribe ukraine` at once, an editor's `/post` from Telegram to 130 chats, then over the HTTP
API a 10,000-character update, a photo replaced twice, and two long updates back to back.

Then, from the sandboxes' request logs and transcripts: no request got a 429; no relay message
was deleted (nothing appeared, vanished and came back); every chat shows each update once, and
every copy equals the latest revision as the relay's own renderers produce it.

The sandboxes count Telegram's and Discord's limits at their real rates (Telegram: 30/s for the
bot, 1/s per chat with a burst of 3, 20 a minute per group), and the relay runs with its
default budgets. The hour takes about 75 s here.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from relay_sandbox.discord.ratelimit import DiscordLimits
from relay_sandbox.discord.server import DiscordSandbox
from relay_sandbox.telegram.html import parse_html
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.render import DisplayedMessage
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.discord import render as discord_render
from relay.adapters.telegram.render import render as telegram_render
from relay.config import Config
from relay.keys import Keys
from relay.ledger import read_progress
from relay.model import Update
from relay.registry import Registry

from .conftest import BASE_CONFIG
from .helpers import call_api, free_port
from .test_supervision import _healthy

pytestmark = pytest.mark.pace  # no 429 at the real limits: run alone (./dev test)

# BUSY_HOUR_VERBOSE=1: the workers log at DEBUG into <tmp>/w*.log (what each one sent when).
VERBOSE = ["--verbose"] if os.environ.get("BUSY_HOUR_VERBOSE") else []
READERS = 100
GROUPS = 30  # with the readers: the 130 chats of the editor's /post
DISCORD_CHANNELS = 4
API_TOKEN = "busy-hour-token"
WITHIN = 300.0  # a guard against hanging only: the hour takes about 75 s here
PUBLISHED = re.compile(r"Published update (\S+) to")
SENTENCE = "Officials said the figures would be revised as reports came in from the regions. "


def long_body(chars: int) -> str:
    paragraphs, body = [], ""
    while len(body) < chars:
        paragraphs.append(SENTENCE * 6)
        body = "\n\n".join(paragraphs)
    return body[: chars - 1].rstrip(". ") + "."


class Hour:
    """The sandboxes, the world in them, and the relay workers."""

    def __init__(self, tg: TelegramSandbox, dc: DiscordSandbox) -> None:
        self.tg, self.dc = tg, dc
        self.bot = tg.control.create_bot("relay_bot", first_name="Newsroom")
        self.editor = tg.control.create_user("Eda", username="eda")
        self.readers = [tg.control.create_user(f"Reader {i}") for i in range(READERS)]
        owner = tg.control.create_user("Olga")
        self.groups = []
        for i in range(GROUPS):
            group = tg.control.create_chat("supergroup", f"Newsroom group {i}", creator=owner.id)
            tg.control.add_bot(group.id, self.bot)
            self.groups.append(group.id)
        self.app = dc.control.create_application("live-relay")
        guild = dc.control.create_guild("Newsroom")
        dc.control.invite_bot(self.app.application_id, guild)
        self.channels = [dc.control.create_channel(guild, f"live-{i}")
                         for i in range(DISCORD_CHANNELS)]  # fmt: skip
        self.port = free_port()
        self.procs: list[asyncio.subprocess.Process] = []
        self.pauses: list[tuple[float, float]] = []

    def config(self, path: Path, redis_url: str | None, api: bool = True) -> Path:
        channels = [{"destination": f"telegram:{g}", "topics": ["ukraine"]} for g in self.groups]
        channels += [{"destination": f"discord:{c}", "topics": ["ukraine"]}
                     for c in self.channels]  # fmt: skip
        data: dict[str, Any] = {
            **BASE_CONFIG,
            "redis": {"url": redis_url},
            "editors": {"telegram_users": [self.editor.id]},
            "channels": channels,
            "console": {"enabled": False},
            "api": {"enabled": api, "port": self.port},
            "telegram": {"enabled": True, "api_url": self.tg.base_url},
            "discord": {"enabled": True, "api_url": self.dc.api_base,
                        "gateway_url": self.dc.gateway_url},
        }  # fmt: skip
        path.write_text(yaml.safe_dump(data))
        return path

    async def start(self, configs: list[Path]) -> None:
        """One worker per config; the first serves the API, all deliver, sharing the budgets."""
        env = {**os.environ, "TELEGRAM_TOKEN": self.bot.token,
               "DISCORD_TOKEN": self.app.token, "RELAY_API_TOKEN": API_TOKEN}  # fmt: skip
        for n, cfg in enumerate(configs):
            log = cfg.with_suffix(".log").open("wb")  # read when a step times out
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "relay.cli", *VERBOSE, "--config", str(cfg), "run",
                "--consumer", f"busy-{n}", stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
            log.close()
            self.procs.append(proc)
            if n == 0:
                await _healthy(self.port, proc)

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()

    async def api(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await call_api(self.port, API_TOKEN, method, path, body)

    async def watch_pauses(self) -> None:
        """Record each pause of this process's event loop (the sandboxes') over 50 ms: a 429
        just after one may be the sandbox's stamping, not the relay's pace."""
        while True:
            started = time.monotonic()
            await asyncio.sleep(0.01)
            if (late := time.monotonic() - started - 0.01) > 0.05:
                self.pauses.append((round(started, 3), round(late, 3)))

    def replies(self, user_id: int) -> list[str]:
        return [m.content for m in self.tg.control.transcript(user_id, bot=self.bot)
                if m.sender_id == self.bot.id]  # fmt: skip


@pytest.fixture
async def hour() -> AsyncIterator[Hour]:
    tg_limits = TelegramLimits(global_per_second=30, per_chat_per_second=1.0, per_chat_burst=3,
                               group_per_minute=20)  # the defaults, said out loud  # fmt: skip
    async with (
        TelegramSandbox(limits=tg_limits) as tg,
        DiscordSandbox(limits=DiscordLimits()) as dc,
    ):
        world = Hour(tg, dc)
        # The sandboxes stamp a request when their event loop reads it: a pause of this process
        # (a full garbage collection of the sandboxes' growing state took 174 ms) would stamp
        # the requests that arrived meanwhile as one burst and count a 429 the platform, which
        # stamps arrivals, would not. No collection while the hour runs (memory is plenty).
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            yield world
        finally:
            gc.enable()
            gc.unfreeze()
            await world.stop()


async def until(check: Any, within: float = WITHIN, every: float = 0.2, state: Any = None) -> None:
    """Wait for `check()`; past `within`, fail saying what `state()` finds (the step stuck)."""
    try:
        async with asyncio.timeout(within):
            while not await check():  # noqa: ASYNC110 - the state is in the sandboxes and Redis
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(
            f"not within {within:.0f}s: {await state() if state else ''}"
        ) from None


async def settled(client: aioredis.Redis, ids: list[str]) -> bool:
    """Every update's latest revision delivered (or failed) everywhere, and no work left."""
    keys = Keys()
    for update_id in ids:
        progress = await read_progress(client, keys, update_id)
        latest = await Registry(client, keys).latest(update_id)
        if progress is None or latest is None or progress.revision != latest.revision:
            return False
        if not progress.done:
            return False
    return not await client.zcard(keys.ready())


def telegram_expected(update: Update, config: Config) -> list[tuple[str, str | None]]:
    """(visible text, photo URL) of each part, as the relay renders `update` for Telegram."""
    topic = config.topic(update.topic)
    assert topic is not None
    return [(parse_html(m.html)[0], m.photo) for m in telegram_render(update, topic)]


def telegram_shown(m: DisplayedMessage) -> tuple[str, str | None]:
    return m.content, m.photo_url


@pytest.mark.timeout(600)
async def test_a_busy_hour_leaves_every_copy_right_with_no_429_and_nothing_flashed(
    hour: Hour, tmp_path: Path, config: Config, client: aioredis.Redis
) -> None:
    tg, dc, bot = hour.tg, hour.dc, hour.bot
    pauses = asyncio.create_task(hour.watch_pauses())
    url = config.redis.url
    await hour.start([hour.config(tmp_path / "w0.yaml", url),
                      hour.config(tmp_path / "w1.yaml", url, api=False)])  # fmt: skip

    # 100 readers subscribe at the same moment: every one is answered.
    for reader in hour.readers:
        tg.control.send_message(reader.id, "/subscribe ukraine", bot=bot)

    async def all_answered() -> bool:
        return all(any(r.startswith("Subscribed") for r in hour.replies(u.id))
                   for u in hour.readers)  # fmt: skip

    await until(all_answered)

    # The editor posts from Telegram to the 130 chats (and the Discord channels).
    tg.control.send_message(
        hour.editor.id, "/post ukraine Evacuation corridor opens\nBuses leave at noon.", bot=bot
    )

    async def posted() -> bool:
        return any(PUBLISHED.search(r) for r in hour.replies(hour.editor.id))

    await until(posted)
    posted_id = next(m.group(1) for r in hour.replies(hour.editor.id)
                     if (m := PUBLISHED.search(r)))  # fmt: skip

    watched = [posted_id]

    async def state() -> str:
        keys = Keys()
        found = [await read_progress(client, keys, i) for i in watched]
        sent = len([r for r in tg.control.requests() if r.status == 200])
        return f"progress={found} ready={await client.zcard(keys.ready())} telegram_ok={sent}"

    # Over the HTTP API: a 10,000-character update, a photo replaced twice, two long updates.
    big = await hour.api(
        "POST",
        "/updates",
        {"topic": "ukraine", "headline": "What we know so far", "body": long_body(10_000)},
    )
    photo = await hour.api("POST", "/updates", {
        "topic": "ukraine", "headline": "The bridge this morning",
        "image": {"url": "https://images.example/bridge-1.jpg", "caption": "The east span.",
                  "credit": "Jane Roe"}})  # fmt: skip
    watched += [big["id"], photo["id"]]
    for n in (2, 3):
        # The editor finds a better picture once every copy shows the last one, and then again:
        # each replacement has to reach copies already sent.
        await until(lambda: settled(client, [photo["id"]]), state=state)
        await hour.api("PATCH", f"/updates/{photo['id']}", {"image": {
            "url": f"https://images.example/bridge-{n}.jpg", "caption": "The east span.",
            "credit": "Jane Roe"}})  # fmt: skip
    first = await hour.api(
        "POST",
        "/updates",
        {"topic": "ukraine", "headline": "Timeline, part one", "body": long_body(9_000)},
    )
    second = await hour.api(
        "POST",
        "/updates",
        {"topic": "ukraine", "headline": "Timeline, part two", "body": long_body(9_000)},
    )

    registry = Registry(client, Keys())
    ids = [posted_id, big["id"], photo["id"], first["id"], second["id"]]
    watched[:] = ids

    await until(lambda: settled(client, ids), state=state)
    latest = [await registry.latest(i) for i in ids]
    assert all(u is not None for u in latest)
    updates: list[Update] = [u for u in latest if u is not None]

    # No request to either platform was refused for its rate.
    tg_429 = [r for r in tg.control.requests() if r.status == 429]
    dc_429 = [r for r in dc.control.requests() if r.status == 429]
    pauses.cancel()
    assert (len(tg_429), len(dc_429)) == (0, 0), (_around(tg, tg_429), dc_429[:3], hour.pauses)

    # Every Telegram chat: each update once, every part as the latest revision renders it, and
    # no relay message ever deleted.
    expected = [part for u in updates for part in telegram_expected(u, config)]
    photo_parts = telegram_expected(updates[2], config)
    assert photo_parts[0][1] == "https://images.example/bridge-3.jpg"
    # The photo went out once per chat and was replaced in place, twice, in every chat.
    chats_n = READERS + GROUPS
    assert len([r for r in tg.control.requests("sendPhoto") if r.status == 200]) == chats_n
    media = [r for r in tg.control.requests("editMessageMedia") if r.status == 200]
    assert len(media) == 2 * chats_n
    chats = [u.id for u in hour.readers] + hour.groups
    for chat in chats:
        every = tg.control.transcript(chat, bot=bot if chat > 0 else None, include_deleted=True)
        ours = [m for m in every if m.sender_id == bot.id or (chat < 0 and m.sender_id is None)]
        ours = [m for m in ours if not m.content.startswith("Subscribed")]
        assert [m for m in ours if m.deleted] == [], f"chat {chat}: a copy vanished"
        assert [telegram_shown(m) for m in ours] == expected, f"chat {chat}"

    # Every Discord channel: the same updates, each message as the latest revision renders it.
    topic = config.topic("ukraine")
    assert topic is not None
    want = [e.get("description", "") for u in updates
            for p in discord_render.render_cached(u, topic) for e in p["embeds"]]  # fmt: skip
    for channel in hour.channels:
        shown = dc.control.transcript(channel, include_deleted=True)
        assert [m for m in shown if m.deleted] == [], f"channel {channel}: a copy vanished"
        got = [e.get("description", "") for m in shown for e in m.embeds]
        assert got == want, f"channel {channel}"


def _around(tg: TelegramSandbox, refused: list[Any]) -> str:
    """Each refused request with the bot's requests to that chat in the 3 s before it."""
    lines = []
    for r in refused[:5]:
        chat = str(r.params.get("chat_id"))
        before = [(round(x.at - r.at, 3), x.method, x.status) for x in tg.control.requests()
                  if str(x.params.get("chat_id")) == chat and r.at - 3 < x.at <= r.at]  # fmt: skip
        total = len([x for x in tg.control.requests() if r.at - 1 < x.at <= r.at])
        lines.append(f"{r.method} chat={chat} all-in-last-1s={total} this-chat={before}")
        window = [(round(x.at - r.at, 3), x.method, x.params.get("chat_id"))
                  for x in tg.control.requests() if r.at - 1.2 < x.at < r.at]  # fmt: skip
        lines.append(f"  the 1.2 s before it: {window}")
    return "\n".join(lines)
