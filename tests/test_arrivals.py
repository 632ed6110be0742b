"""`relay.arrivals.Arrivals`: a process's counted calls never arrive more than `limit` in any
`period`, however unevenly each call's arrival lags behind the moment it was made."""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.telegram.request import counted
from relay.arrivals import Arrivals
from relay.config import Config

from .conftest import BASE_CONFIG
from .helpers import call_api, free_port, start_relay, stop_relay

LIMIT, PERIOD = 5, 0.25


def most_in_a_period(arrivals: list[float], period: float) -> int:
    """The most arrivals any half-open window (t - period, t] holds, as the sandbox counts."""
    ordered = sorted(arrivals)
    return max(len([a for a in ordered if t - period < a <= t]) for t in ordered)


async def burst(guard: Arrivals | None, legs: list[tuple[float, float]]) -> list[float]:
    """Calls made as fast as the guard lets them, each one's way to the platform and back its
    pair of `legs`; the moments they arrived."""
    arrived: list[float] = []

    async def one(out: float, back: float) -> None:
        await asyncio.sleep(out)
        arrived.append(time.monotonic())
        await asyncio.sleep(back)

    async def call(out: float, back: float) -> None:
        if guard is None:
            await one(out, back)
            return
        async with guard.call():
            await one(out, back)

    tasks = []
    for out, back in legs:
        tasks.append(asyncio.create_task(call(out, back)))
        await asyncio.sleep(PERIOD / LIMIT)  # the pace the budgets plan: exactly the rate
    await asyncio.gather(*tasks)
    return arrived


def slow_first(n: int) -> list[tuple[float, float]]:
    """The first calls open connections (their way out 20 times longer), then warm ones."""
    return [(0.06, 0.003) if i < 3 else (0.003, 0.003) for i in range(n)]


async def test_calls_whose_first_ones_arrive_late_never_crowd_one_period() -> None:
    legs = slow_first(4 * LIMIT)
    assert most_in_a_period(await burst(None, legs), PERIOD) > LIMIT  # what the guard is for
    assert most_in_a_period(await burst(Arrivals(LIMIT, PERIOD), legs), PERIOD) <= LIMIT


async def test_a_slow_call_made_first_and_arriving_after_later_ones_is_counted() -> None:
    """Arrivals out of the order calls were made: the first call takes 1.6 periods to arrive,
    the others at once. Every call must stay a period clear of it, not only the one `limit`
    places after it (a guard that looked only there let 6 into one period)."""
    legs = [(PERIOD * 1.6, 0.002)] + [(0.002, 0.002)] * (3 * LIMIT)
    assert most_in_a_period(await burst(None, legs), PERIOD) > LIMIT
    assert most_in_a_period(await burst(Arrivals(LIMIT, PERIOD), legs), PERIOD) <= LIMIT


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
async def test_calls_with_any_spread_of_delays_never_crowd_one_period(seed: int) -> None:
    """Each leg at least 2 ms, at most 40: the arrivals keep the limit, whatever the mix."""
    rnd = random.Random(seed)
    legs = [(rnd.uniform(0.002, 0.04), rnd.uniform(0.002, 0.04)) for _ in range(4 * LIMIT)]
    arrived = await burst(Arrivals(LIMIT, PERIOD), legs)
    assert len(arrived) == len(legs)
    assert most_in_a_period(arrived, PERIOD) <= LIMIT


async def test_calls_answered_at_once_at_the_rate_never_wait() -> None:
    """Calls at the rate, each answered at once: none waits (the call `limit` back went a
    period ago)."""
    held: list[float] = []
    guard = Arrivals(LIMIT, PERIOD, held=held.append)
    waited = []
    for _ in range(3 * LIMIT):
        asked = time.monotonic()
        async with guard.call():
            waited.append(time.monotonic() - asked)
        await asyncio.sleep(PERIOD / LIMIT * 1.05)
    assert max(waited) < PERIOD / LIMIT / 2, waited
    assert held == []  # nothing to report: no call was held


async def test_an_album_counts_as_its_messages() -> None:
    """An album of 4 after 3 single calls waits until a period after the first of them."""
    held: list[float] = []
    guard = Arrivals(LIMIT, PERIOD, held=held.append)
    start = time.monotonic()
    for _ in range(3):
        async with guard.call():
            pass
    async with guard.call(4):
        went = time.monotonic() - start
    assert went >= PERIOD * 0.9, went
    assert len(held) == 1 and held[0] >= PERIOD * 0.9, held  # the album's wait, reported


async def test_a_call_never_answered_stops_holding_the_others_after_its_timeout() -> None:
    guard = Arrivals(1, 0.05)
    hung = asyncio.Event()

    async def never() -> None:
        async with guard.call():
            hung.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(never())
    await hung.wait()
    with pytest.raises(TimeoutError):  # held while the first may still arrive
        async with asyncio.timeout(0.3):
            async with guard.call():
                pass
    task.cancel()  # its answer (a failure) comes: a period later the next call goes
    async with asyncio.timeout(1):
        async with guard.call():
            pass


def test_what_telegram_counts() -> None:
    assert counted("sendMessage", {}) == (False, 1)
    assert counted("editMessageText", {}) == (False, 1)
    assert counted("sendMessage", {"allow_paid_broadcast": "true"}) == (True, 1)
    assert counted("sendMediaGroup", {"media": '[{"type":"photo"},{"type":"photo"}]'}) == (
        False, 2,
    )  # fmt: skip
    assert counted("copyMessages", {"message_ids": "[1, 2, 3]"}) == (False, 3)
    for free in ("getUpdates", "deleteMessage", "pinChatMessage", "getChat", "sendChatAction"):
        assert counted(free, {}) == (False, 0), free


@pytest.mark.pace
@pytest.mark.timeout(180)
async def test_relay_run_holds_sends_behind_late_ones_and_says_so(
    tmp_path: Path, config: Config
) -> None:
    """`relay run` against the sandbox at Telegram's real limits: an update to 60 private chats
    whose first 4 sends reach Telegram 150 ms late (new connections, say). No 429, and
    /metrics says how long the guard held calls."""
    async with TelegramSandbox(limits=TelegramLimits()) as tg:
        bot = tg.control.create_bot("relay_bot", first_name="Newsroom")
        readers = [tg.control.create_user(f"Reader {i}") for i in range(60)]
        for reader in readers:
            tg.control.send_message(reader.id, "hi", bot=bot)
        port = free_port()
        data: dict[str, Any] = {
            **BASE_CONFIG,
            "redis": {"url": config.redis.url},
            "channels": [{"destination": f"telegram:{r.id}", "topics": ["ukraine"]}
                         for r in readers],
            "console": {"enabled": False},
            "api": {"enabled": True, "port": port},
            "telegram": {"enabled": True, "api_url": tg.base_url},
        }  # fmt: skip
        cfg = tmp_path / "relay.yaml"
        cfg.write_text(yaml.safe_dump(data))
        env = {**os.environ, "TELEGRAM_TOKEN": bot.token, "RELAY_API_TOKEN": "arrivals"}
        proc = await start_relay(cfg, env, port, tmp_path / "relay.log")
        try:
            tg.control.faults.fail_next("sendMessage", 4, delay=0.15)
            await call_api(port, "arrivals", "POST", "/updates",
                           {"topic": "ukraine", "headline": "Sirens in Kyiv"})  # fmt: skip

            def delivered() -> bool:
                return all(any(m.sender_id == bot.id for m in tg.control.transcript(r.id, bot=bot))
                           for r in readers)  # fmt: skip

            async with asyncio.timeout(60):
                while not delivered():  # noqa: ASYNC110 - the sandbox signals nothing
                    await asyncio.sleep(0.1)
            url = f"http://127.0.0.1:{port}/metrics"
            async with aiohttp.ClientSession() as http, http.get(url) as r:
                metrics = await r.text()
        finally:
            await stop_relay(proc)
        refused = [r for r in tg.control.requests("sendMessage") if r.status == 429]
        assert refused == []
        held = re.search(r'^relay_arrival_wait_seconds_total\{platform="telegram"\} (\S+)$',
                         metrics, re.M)  # fmt: skip
        assert held is not None and float(held.group(1)) > 0, metrics[-2000:]
