"""Worker bookkeeping: heartbeats, a clean stop leaving the consumer group, `relay status`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis

from relay.config import Config
from relay.keys import Keys, as_str
from relay.stream import Stream
from relay.workers import Workers

from .test_cli import relay_cmd, write_config


async def _consumers(client: aioredis.Redis, keys: Keys) -> dict[str, int]:
    raw = await client.xinfo_consumers(keys.updates, keys.group)
    return {as_str(c["name"]): int(c["pending"]) for c in raw}


async def test_retire_hands_pending_entries_to_the_heir_and_leaves_the_group(
    client: aioredis.Redis,
) -> None:
    keys = Keys()
    a, b = Stream(client, keys, "a"), Stream(client, keys, "b")
    await a.ensure_group()
    for n in range(3):
        await a.append(f'{{"n": {n}}}')
    assert len(await a.read(10, 0)) == 3  # a holds three entries, unacknowledged
    await b.read(10, 1)  # b joins the group
    assert await a.retire("b", idle_ms=60_000)
    assert await _consumers(client, keys) == {"b": 3}
    # Handed over idle: the next claim of any worker takes them at once, counted as no failure.
    claimed = await Stream(client, keys, "c").claim(min_idle_ms=59_000, count=10)
    assert len(claimed) == 3
    rows = await client.xpending_range(keys.updates, keys.group, "-", "+", 10)
    assert {int(r["times_delivered"]) for r in rows} == {2}  # a's read and c's claim only


async def test_retire_with_no_heir_keeps_the_consumer_and_its_pending_entries(
    client: aioredis.Redis,
) -> None:
    keys = Keys()
    a = Stream(client, keys, "a")
    await a.ensure_group()
    await a.append('{"n": 1}')
    await a.read(10, 0)
    assert not await a.retire(None, idle_ms=1000)
    assert await _consumers(client, keys) == {"a": 1}  # deleting it would have lost the entry
    await a.ack((await client.xrange(keys.updates))[0][0].decode())
    assert await a.retire(None, idle_ms=1000)  # nothing pending: it leaves
    assert await _consumers(client, keys) == {}


async def test_heartbeats_list_live_workers_and_forget_removed_ones(
    client: aioredis.Redis,
) -> None:
    workers = Workers(client, Keys())
    await workers.beat("w1", "host-a", 11)
    await workers.beat("w2", "host-b", 22)
    first = {w.name: w for w in await workers.live()}
    assert set(first) == {"w1", "w2"} and first["w2"].host == "host-b" and first["w2"].pid == 22
    await workers.beat("w1", "host-a", 11)
    again = {w.name: w for w in await workers.live()}
    assert again["w1"].started_ms == first["w1"].started_ms  # started stays, seen moves on
    assert again["w1"].seen_ms >= first["w1"].seen_ms
    await workers.remove("w1")
    assert [w.name for w in await workers.live()] == ["w2"]
    await client.delete(Keys().worker("w2"))  # what its TTL does to a worker that died
    assert await workers.live() == []


async def _until(what: object, within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not await what():  # type: ignore[operator]  # noqa: ASYNC110 - the state is in Redis
            await asyncio.sleep(0.05)


async def test_a_stopped_worker_leaves_relay_status_and_the_consumer_group(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    keys = Keys()
    workers = Workers(client, keys)
    log = (tmp_path / "run.log").open("w")
    argv = [sys.executable, "-m", "relay.cli", "--config", str(cfg), "run", "--consumer"]
    procs = [  # started at once, waited for below: nothing blocks the loop
        subprocess.Popen([*argv, name], stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
        for name in ("w-stays", "w-stops")
    ]
    try:

        async def both_in_group() -> bool:
            names = {w.name for w in await workers.live()}
            try:
                consumers = await _consumers(client, keys)
            except Exception:
                return False
            return {"w-stays", "w-stops"} <= names and {"w-stays", "w-stops"} <= set(consumers)

        await _until(both_in_group)
        before = await asyncio.to_thread(relay_cmd, "--config", str(cfg), "status")
        assert "workers: 2 live" in before.stdout and "w-stops (host" in before.stdout
        procs[1].send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(procs[1].wait, 30) == 0
        after = await asyncio.to_thread(relay_cmd, "--config", str(cfg), "status")
        assert after.returncode == 0, after.stderr
        assert "workers: 1 live" in after.stdout and "w-stops" not in after.stdout
        assert "w-stays (host" in after.stdout and "last seen" in after.stdout
        assert set(await _consumers(client, keys)) == {"w-stays"}
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(30)
        log.close()
