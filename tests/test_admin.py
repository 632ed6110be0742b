"""Operator tools: `relay status`, dead letters listed and retried, and `relay sandbox`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import redis.asyncio as aioredis
from relay_sandbox.telegram.errors import too_many_requests
from relay_sandbox.telegram.server import TelegramSandbox

from relay.admin import retry_dead_letters, status
from relay.config import Config
from relay.dead_letters import list_dead_letters
from relay.errors import Rejected
from relay.ledger import INDEX_CAP, ProgressBook, in_flight
from relay.model import Destination, Update
from relay.subscriptions import Subscriptions
from relay.workers import Workers

from .helpers import KEYS, Pipeline
from .test_cli import relay_cmd, write_config

A = Destination("memory", "a")


async def test_status_shows_workers_queues_subscribers_and_dead_letters(
    client: aioredis.Redis, config: Config
) -> None:
    world = Pipeline(client, config, worker="worker-1")
    await world.subs.subscribe(A, ["ukraine"])
    world.memory.fail_next(A, Rejected("Bad Request: chat not found"))
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.ingest.publish(Update("u2", "ukraine", headline="h2"))
    await world.fan_out()
    before = await status(client, config)
    assert before.destinations_with_work == 1 and before.pending_entries == 0
    await world.drain()
    await Workers(client, KEYS).beat("worker-1", "host-1", 7)  # what `relay run` does
    after = await status(client, config)
    text = after.render()
    assert after.subscribers == {"ukraine": 1, "climate": 0, "elections": 0}
    assert after.destinations_with_work == 0 and after.dead_letters == 1
    assert "workers: 1 live\n  worker-1 (host host-1, pid 7): last seen " in text
    assert text.count("worker-1") == 1 and "ago, 0 pending" in text
    assert "memory:a  update=u1  Bad Request: chat not found" in text


async def test_retry_puts_a_failed_delivery_back_in_its_queue(
    client: aioredis.Redis, config: Config
) -> None:
    world = Pipeline(client, config)
    await world.subs.subscribe(A, ["ukraine"])
    world.memory.fail_next(A, Rejected("Bad Request: chat not found"))
    await world.ingest.publish(Update("u1", "ukraine", headline="Second chance"))
    await world.drain()
    assert world.memory.calls == []
    [letter] = await list_dead_letters(client, KEYS)
    results = await retry_dead_letters(client, config, [letter.id, "0-1"])
    assert results == [("0-1", "no such dead letter"), (letter.id, "queued again for memory:a")]
    await world.drain()
    assert [(c.op, c.update_id) for c in world.memory.calls] == [("send", "u1")]
    assert await list_dead_letters(client, KEYS) == []


async def test_retry_returns_an_entry_to_the_stream_and_keeps_garbage(
    client: aioredis.Redis, config: Config
) -> None:
    world = Pipeline(client, config)
    await world.subs.subscribe(A, ["ukraine"])
    # An accepted update whose entry was dead-lettered (say its topic was dropped from the
    # config for a while): it is in the registry, its entry is no longer in the stream.
    accepted = await world.ingest.publish(Update("u9", "ukraine", headline="Was parked"))
    await client.xdel(KEYS.updates, accepted.entry_id)
    payload = json.dumps({"id": "u9", "topic": "ukraine", "headline": "Was parked"})
    await client.xadd(KEYS.dead_letters, {"source_id": "1-0", "reason": "topic", "payload": payload,
                                          "destination": "", "failed_at": "0"})  # fmt: skip
    await client.xadd(KEYS.dead_letters, {"source_id": "2-0", "reason": "bad", "payload": "{x",
                                          "destination": "", "failed_at": "0"})  # fmt: skip
    results = dict(await retry_dead_letters(client, config, None))
    assert sorted(results.values())[0] == "back in the updates stream"
    assert any(v.startswith("kept: its payload is invalid") for v in results.values())
    await world.drain()
    assert [c.update_id for c in world.memory.calls] == ["u9"]
    [kept] = await list_dead_letters(client, KEYS)
    assert kept.payload == "{x"


def test_cli_status_and_dead_letters(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    out = relay_cmd("--config", str(cfg), "status")
    assert out.returncode == 0 and "dead letters: 0" in out.stdout
    assert (
        relay_cmd("--config", str(cfg), "dead-letters", "list").stdout.strip() == "no dead letters"
    )
    missing = relay_cmd("--config", str(cfg), "dead-letters", "retry", "5-5")
    assert missing.returncode == 1 and "5-5: no such dead letter" in missing.stdout


def test_relay_sandbox_serves_both_platforms_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay.cli", "sandbox", "--telegram-port", "0",
         "--discord-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Control APIs"):
                break
        text = "".join(lines)
        api_url = re.search(r"api_url: (http://127\.0\.0\.1:\d+/bot)\n", text).group(1)  # type: ignore[union-attr]
        token = re.search(r"TELEGRAM_TOKEN=(\S+)", text).group(1)  # type: ignore[union-attr]
        with urllib.request.urlopen(f"{api_url}{token}/getMe", timeout=5) as response:
            me = json.load(response)
        assert me["ok"] and me["result"]["username"] == "live_relay_bot"
        discord_api = re.search(r"Discord REST +(\S+)", text).group(1)  # type: ignore[union-attr]
        with urllib.request.urlopen(f"{discord_api}/gateway", timeout=5) as response:
            assert json.load(response)["url"].startswith("ws://127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


async def _status(cfg: Path, until: Callable[[str], bool]) -> str:
    """`relay status` run again until its output satisfies `until`; that output."""
    out = ""
    try:
        async with asyncio.timeout(60):
            while not until(out):
                run = await asyncio.to_thread(relay_cmd, "--config", str(cfg), "status")
                assert run.returncode == 0, run.stderr
                out = run.stdout
    except TimeoutError:
        raise AssertionError(f"relay status never showed it; last:\n{out}") from None
    return out


async def test_status_shows_a_fan_out_in_flight_with_its_bar_until_it_is_delivered(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    async with TelegramSandbox() as tg:
        bot = tg.control.create_bot("status_bot")
        fast, held = (tg.control.create_chat("channel", f"Live {i}").id for i in (1, 2))
        for chat in (fast, held):
            tg.control.add_bot(chat, bot)
        # Every send to `held` is asked to wait: the job stays queued (no attempt is counted).
        tg.control.faults.fail_next("sendMessage", 100_000, chat_id=held,
                                      error=too_many_requests(1))  # fmt: skip
        channels = [{"destination": d, "topics": ["ukraine"]}
                    for d in ("console:desk", f"telegram:{fast}", f"telegram:{held}")]  # fmt: skip
        cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url},
                           telegram={"enabled": True, "api_url": tg.base_url},
                           channels=channels)  # fmt: skip
        log = (tmp_path / "run.log").open("w")
        proc = subprocess.Popen(  # noqa: ASYNC220 - started here, stopped below
            [sys.executable, "-m", "relay.cli", "--config", str(cfg), "run"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TELEGRAM_TOKEN": bot.token},
        )  # fmt: skip
        try:
            async with asyncio.timeout(60):
                while (
                    not await Workers(client, KEYS).live()
                    or await Subscriptions(client, KEYS).count("ukraine") < 3
                ):
                    assert proc.poll() is None, (tmp_path / "run.log").read_text()
                    await asyncio.sleep(0.05)
            post = ("--config", str(cfg), "post", "--topic", "ukraine", "--headline",
                    "Talks resume")  # fmt: skip
            posted = await asyncio.to_thread(relay_cmd, *post)
            update_id = posted.stdout.strip()
            during = await _status(cfg, lambda out: "delivered 2 / 3" in out)
            tg.control.faults.clear()
            after = await _status(cfg, lambda out: "fan-outs in flight: 0" in out)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 60)
            log.close()
    assert posted.returncode == 0, posted.stderr
    assert "fan-outs in flight: 1\n" in during
    assert f"\n  {update_id}  ukraine · Talks resume\n" in during
    assert ("    [####################..........] delivered 2 / 3 · 0 failed · "
            "console 1 / 1 ok 0 failed · telegram 1 / 2 ok 0 failed\n") in during  # fmt: skip
    assert "  telegram: 1 destinations, 1 jobs queued\n" in during  # the held channel
    assert "jobs queued" not in after  # nothing waits
    assert update_id not in after
    assert await client.zcard(KEYS.progress_index) == 0  # read, found done, dropped


async def test_the_in_flight_index_keeps_the_newest_and_drops_the_expired_and_done(
    client: aioredis.Redis,
) -> None:
    book = ProgressBook(client, KEYS, ttl_seconds=3600)
    # Ids that sort as they start: two starts in one millisecond tie, and ties go by id.
    for i in range(INDEX_CAP + 2):
        await book.start(f"u{i:04}", 1)
    assert await client.zcard(KEYS.progress_index) == INDEX_CAP
    await client.delete(KEYS.progress(f"u{INDEX_CAP:04}"))  # what the ledger's TTL does
    await book.fanned_out(f"u{INDEX_CAP + 1:04}")  # queued for no one: done at once
    flying = await in_flight(client, KEYS)
    assert [i for i, _ in flying] == [f"u{i:04}" for i in range(2, INDEX_CAP)]
    assert await client.zcard(KEYS.progress_index) == INDEX_CAP - 2
