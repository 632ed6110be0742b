"""Each workload, once through the relay (N `relay run` processes) or the plain loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from relay.keys import Keys
from relay.ledger import read_progress
from relay.model import Destination
from relay.subscriptions import Subscriptions

from .measure import Run
from .procs import Sandbox, commands_processed, cpu_seconds, free_port, worker_config, workers
from .profile import Profiler
from .world import Discord, Sent, Telegram

TOPIC = "live"
BODY = "Officials said the figures would be revised as reports came in from the regions."
TELEGRAM_BUDGET, PAID_BUDGET, DISCORD_BUDGET = 30.0, 1000.0, 50.0
UNLIMITED = 100_000


@dataclass
class Store:
    """Where the relay keeps its data here: the embedded Valkey, or a cluster (`--cluster`)."""

    section: dict[str, Any]  # the config's `redis` section
    pids: list[int]  # the server processes, whose CPU is counted
    shards: int = 1

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)


@dataclass
class Bench:
    """What every workload shares: one Valkey, one sandbox, a scratch directory."""

    http: aiohttp.ClientSession
    sandbox: Sandbox
    valkey: Store
    redis: aioredis.Redis
    directory: Path
    profiler: Profiler | None = None  # --profile
    runs: int = 0

    def scratch(self) -> Path:
        self.runs += 1
        path = self.directory / f"run{self.runs}"
        path.mkdir()
        return path

    def profiled(
        self, run: Run, pids: Sequence[int], within: float
    ) -> AbstractAsyncContextManager[None]:
        """py-spy on `pids` for the body, with --profile; else nothing."""
        if self.profiler is None:
            return contextlib.nullcontext()
        label = f"{run.workload} {run.path} x{run.workers}"
        return self.profiler.sampling(label, pids, within)

    async def fresh(
        self, destinations: list[Destination], bots: Sequence[str | None] | None = None
    ) -> None:
        """An empty database with `destinations` subscribed (setup, not measured), each bound
        to its bot in `bots` if given (as if it had subscribed through that bot)."""
        await self.redis.flushall()  # on a cluster: every master
        subs = Subscriptions(self.redis, Keys("relay", self.valkey.shards))
        named = list(bots) if bots is not None else [None] * len(destinations)
        for start in range(0, len(destinations), 50):  # within the pool's connections
            batch = zip(destinations[start : start + 50], named[start : start + 50], strict=True)
            await asyncio.gather(*(subs.subscribe(d, [TOPIC], bot) for d, bot in batch))

    async def settled(self, ids: list[str], within: float) -> None:
        """Wait until every update is delivered (or failed) everywhere."""
        keys = Keys()
        update_id, progress = "", None
        try:
            async with asyncio.timeout(within):
                for update_id in ids:
                    while True:
                        progress = await read_progress(self.redis, keys, update_id)
                        if progress is not None and progress.done:
                            break
                        await asyncio.sleep(0.2)
        except TimeoutError:
            logs = sorted(self.directory.glob("run*/w*.log"))[-3:]
            tails = "\n".join(f"{p}: {p.read_text()[-2000:]}" for p in logs)
            raise RuntimeError(
                f"not settled in {within:.0f}s: {update_id} {progress}\n{tails}"
            ) from None


def update(name: str, n: int) -> dict[str, Any]:
    return {"topic": TOPIC, "headline": f"{name} update {n}", "body": BODY}


async def through_relay(
    b: Bench,
    run: Run,
    dests: list[Destination],
    config: dict[str, Any],
    env: dict[str, str],
    updates: int = 1,
    spacing: float = 0.0,
    bots: Sequence[str | None] | None = None,
    within: float | None = None,
) -> list[float]:
    """Post `updates` through N workers; fill `run` with the cost. Returns each post's answer
    time (monotonic), for latency. `bots`: the bot each destination is bound to; `within`: how
    long it may take (a guard against hanging; by default from the budget)."""
    await b.fresh(dests, bots)
    answered: list[float] = []
    if within is None:
        within = 120 + 5 * run.expected / run.budget + updates * spacing
    async with workers(run.workers, config, env, b.scratch()) as w:
        async with b.profiled(run, w.pids, within):
            cpu0, valkey0 = w.cpu(), b.valkey.cpu()
            sandbox0 = cpu_seconds(b.sandbox.pid)
            commands0 = await commands_processed(b.redis)
            run.start = time.monotonic()
            ids = []
            for n in range(updates):
                ids.append((await w.post(b.http, update(run.workload, n)))["id"])
                answered.append(time.monotonic())
                if spacing:
                    await asyncio.sleep(spacing)
            await b.settled(ids, within)
            run.worker_cpu = w.cpu() - cpu0
            run.valkey_cpu = b.valkey.cpu() - valkey0
            run.sandbox_cpu = cpu_seconds(b.sandbox.pid) - sandbox0
        run.commands = await commands_processed(b.redis) - commands0
        run.commands.pop("info", None)  # the benchmark's own reads of these counts
    return answered


def telegram_config(b: Bench, port: int, paid: bool = False, off: bool = False) -> dict[str, Any]:
    """Telegram at the sandbox; `off`: budgets far above anything reachable (capacity)."""
    budgets: dict[str, Any] = {"paid_broadcast": paid}
    if off:
        budgets.update(global_per_second=UNLIMITED, per_chat_per_second=UNLIMITED,
                       per_group_per_minute=UNLIMITED)  # fmt: skip
    tg = {"enabled": True, "api_url": f"{b.sandbox.telegram_url}/bot", "budgets": budgets}
    return worker_config(b.valkey.section, port, b.sandbox, telegram=tg)


async def telegram_chats(tg: Telegram, kind: str, count: int) -> list[int]:
    await tg.create_bot(f"bench{time.monotonic_ns()}_bot")
    return await (tg.groups(count) if kind == "groups" else tg.private_chats(count))


async def relay_telegram(
    b: Bench,
    name: str,
    kind: str,
    chats_n: int,
    n_workers: int,
    updates: int = 1,
    paid: bool = False,
    limits: dict[str, Any] | None = None,
) -> Run:
    """`updates` updates to `chats_n` private chats or groups, at Telegram's limits."""
    tg = Telegram(b.http, b.sandbox)
    chats = await telegram_chats(tg, kind, chats_n)
    await tg.limits(**(limits or {}))
    budget = math.inf if limits else PAID_BUDGET if paid else TELEGRAM_BUDGET
    run = Run(name, "relay", n_workers, chats_n * updates, budget, 0.0)
    dests = [Destination("telegram", str(c)) for c in chats]
    env = {"TELEGRAM_TOKEN": tg.token}
    config = telegram_config(b, free_port(), paid, off=bool(limits))
    await through_relay(b, run, dests, config, env, updates)
    run.sent = await _ours(tg, chats, run.start)
    return run


async def relay_telegram_bots(
    b: Bench, name: str, chats_n: int, bots_n: int, n_workers: int
) -> tuple[Run, dict[str, int]]:
    """One update to `chats_n` private chats spread evenly over `bots_n` bots, each with paid
    broadcast (its own 1,000/s), at Telegram's limits. Also returns each bot's sends."""
    bots, chats, owner = [], [], []
    for i in range(bots_n):
        tg = Telegram(b.http, b.sandbox)
        got = await telegram_chats(tg, "private", chats_n // bots_n + (i < chats_n % bots_n))
        bots.append(tg)
        chats += got
        owner += [f"bot-{i}"] * len(got)
    await bots[0].limits()
    run = Run(name, "relay", n_workers, chats_n, PAID_BUDGET * bots_n, 0.0)
    env = {f"TELEGRAM_TOKEN_{i}": tg.token for i, tg in enumerate(bots)}
    config = telegram_config(b, free_port())
    config["telegram"]["bots"] = [
        {
            "name": f"bot-{i}",
            "token_env": f"TELEGRAM_TOKEN_{i}",
            "budgets": {"paid_broadcast": True},
        }
        for i in range(bots_n)
    ]
    dests = [Destination("telegram", str(c)) for c in chats]
    # The budgets (4,000/s for 4 bots) outrun what 2 cores deliver (about 1,000/s, docs/
    # scaling.md): allow for 200/s, the guard against hanging only.
    await through_relay(b, run, dests, config, env, bots=owner, within=120 + chats_n / 200)
    run.sent = await _ours(bots[0], chats, run.start)  # the log holds every bot's requests
    of = {str(c): bot for c, bot in zip(chats, owner, strict=True)}
    per_bot: dict[str, int] = {}
    for sent in run.sent:
        if sent.status == 200:
            per_bot[of[sent.chat]] = per_bot.get(of[sent.chat], 0) + 1
    return run, per_bot


async def _ours(tg: Telegram, chats: list[int], start: float) -> list[Sent]:
    mine = {str(c) for c in chats}
    return [s for s in await tg.requests() if s.chat in mine and s.at >= start]


async def plain_telegram(
    b: Bench,
    name: str,
    kind: str,
    chats_n: int,
    updates: int = 1,
    paid: bool = False,
    limits: dict[str, Any] | None = None,
    aiohttp_request: bool = False,
) -> Run:
    """The same sends from the plain PTB loop (one process, no relay): with AIORateLimiter at
    the platform's limits; with `limits` (the sandbox's, e.g. off) and no limiter. PTB's default
    transport (httpx), or `aiohttp_request`: the relay's `AiohttpRequest`."""
    tg = Telegram(b.http, b.sandbox)
    chats = await telegram_chats(tg, kind, chats_n)
    await tg.limits(**(limits or {}))
    budget = math.inf if limits else PAID_BUDGET if paid else TELEGRAM_BUDGET
    path = "plain loop, AiohttpRequest" if aiohttp_request else "plain loop"
    run = Run(name, path, 1, chats_n * updates, budget, 0.0)
    listing = b.scratch() / "chats.txt"
    listing.write_text("\n".join(str(c) for c in chats * updates))
    flags = [*(["--paid"] if paid else []), *(["--no-limiter"] if limits else []),
             *(["--aiohttp"] if aiohttp_request else [])]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.real.plain", "--api-url", f"{b.sandbox.telegram_url}/bot",
        "--token", tg.token, "--chats", str(listing), *flags,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    await proc.stdout.readline()  # ready
    async with b.profiled(run, [proc.pid], 120 + 5 * run.expected / run.budget):
        sandbox0 = cpu_seconds(b.sandbox.pid)
        run.start = time.monotonic()
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        out = await proc.stdout.readline()
        run.sandbox_cpu = cpu_seconds(b.sandbox.pid) - sandbox0
    await proc.communicate()
    run.worker_cpu = float(json.loads(out)["cpu"])
    # The loop sends one text to every chat: each (chat, n) pair counts once by its send.
    sent = await _ours(tg, chats, run.start)
    run.sent = _numbered(sent, updates)
    return run


def _numbered(sent: list[Sent], updates: int) -> list[Sent]:
    """Give the k-th successful send to a chat the text "k", as the relay's updates differ."""
    seen: dict[str, int] = {}
    out = []
    for s in sorted(sent, key=lambda s: s.at):
        if s.status == 200:
            seen[s.chat] = seen.get(s.chat, 0) + 1
            s = Sent(s.at, s.status, s.chat, str(min(seen[s.chat], updates)))
        out.append(s)
    return out


async def relay_discord(b: Bench, channels_n: int, n_workers: int) -> Run:
    dc = Discord(b.http, b.sandbox)
    channels = await dc.channels(channels_n)
    run = Run(f"discord {channels_n} channels", "relay", n_workers, channels_n, DISCORD_BUDGET,
              0.0)  # fmt: skip
    config = worker_config(b.valkey.section, free_port(), b.sandbox, discord={
        "enabled": True, "api_url": b.sandbox.discord_api,
        "gateway_url": b.sandbox.discord_gateway})  # fmt: skip
    dests = [Destination("discord", c) for c in channels]
    await through_relay(b, run, dests, config, {"DISCORD_TOKEN": dc.token})
    mine = set(channels)
    run.sent = [s for s in await dc.requests() if s.at >= run.start
                and (s.chat in mine or s.status == 429)]  # fmt: skip
    return run


async def latency(b: Bench, updates: int, spacing: float = 1.1) -> list[float]:
    """Milliseconds from the API's answer to the sandbox's stamp of the first send, one
    private chat at Telegram's limits, one update every `spacing` s (under 1/s per chat)."""
    tg = Telegram(b.http, b.sandbox)
    chats = await telegram_chats(tg, "private", 1)
    await tg.limits()
    run = Run("latency", "relay", 1, updates, TELEGRAM_BUDGET, 0.0)
    dests = [Destination("telegram", str(chats[0]))]
    env = {"TELEGRAM_TOKEN": tg.token}
    config = telegram_config(b, free_port())
    answered = await through_relay(b, run, dests, config, env, updates, spacing)
    sent = [s for s in await _ours(tg, chats, run.start) if s.status == 200]
    out = []
    for n, at in enumerate(answered):
        marker = f"{run.workload} update {n}<"
        first = min((s.at for s in sent if marker in s.text), default=math.nan)
        out.append((first - at) * 1000)
    return out


async def console_capacity(b: Bench, destinations: int, n_workers: int) -> Run:
    """Console destinations (no platform, no limits): the relay's own ceiling."""
    run = Run(f"console {destinations}", "relay", n_workers, destinations, math.inf, 0.0)
    config = worker_config(b.valkey.section, free_port(), b.sandbox, console={"enabled": True})
    dests = [Destination("console", f"d{i}") for i in range(destinations)]
    await through_relay(b, run, dests, config, {})
    done = time.monotonic()
    run.sent = [Sent(done, 200, d.chat_id, "") for d in dests]  # the progress says: all done
    return run


Workload = Callable[[Bench], Awaitable[list[Run]]]
