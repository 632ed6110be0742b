"""Operator tools: `relay status`, dead letters listed and retried, and `relay sandbox`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import redis.asyncio as aioredis

from relay.admin import retry_dead_letters, status
from relay.config import Config
from relay.dead_letters import list_dead_letters
from relay.errors import Rejected
from relay.model import Destination, Update
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
