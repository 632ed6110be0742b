"""Worker heartbeats: which `relay run` processes are alive, where, and when each was last seen.

Each worker writes a hash (name, host, pid, started-at, last-seen) every `BEAT_EVERY` seconds
with a `TTL`, and its last-seen time into one sorted set; a clean stop removes both. A worker
that dies without stopping vanishes once its hash expires. Times come from the Redis server's
clock, so workers on hosts whose clocks disagree still compare. The worker's name is its
consumer name in the dispatchers' group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis

from relay.keys import Keys, as_str
from relay.scripts import Script
from relay.stream import UNREACHABLE

log = logging.getLogger(__name__)
BEAT_EVERY = 2.0  # seconds between heartbeats
TTL = 10.0  # seconds without a heartbeat before a worker counts as gone

# KEYS: the worker's hash, the index. ARGV: name, host, pid, ttl ms. Returns the server's ms.
_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSETNX', KEYS[1], 'started', now)
redis.call('HSET', KEYS[1], 'host', ARGV[2], 'pid', ARGV[3], 'seen', now)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
return now
"""


@dataclass(frozen=True)
class Worker:
    """One live worker as its last heartbeat described it; `seen_ago` in seconds."""

    name: str
    host: str
    pid: int
    started_ms: int
    seen_ms: int
    seen_ago: float


class Workers:
    """Writes this worker's heartbeat and reads everyone's."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._beat = Script(client, _BEAT)

    async def beat(self, name: str, host: str, pid: int) -> None:
        """Say that `name` is alive now (and since when, the first time)."""
        await self._beat(
            keys=[self.keys.worker(name), self.keys.workers],
            args=[name, host, pid, int(TTL * 1000)],
        )

    async def remove(self, name: str) -> None:
        """Take `name` off the live workers (a clean stop)."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.worker(name))
            pipe.zrem(self.keys.workers, name)
            await pipe.execute()

    async def live(self) -> list[Worker]:
        """Workers with an unexpired heartbeat, the most recently started first."""
        seconds, micros = await self.client.time()
        now = seconds * 1000 + micros // 1000
        names = [as_str(n) for n in await self.client.zrangebyscore(
            self.keys.workers, now - int(TTL * 1000), "+inf")]  # fmt: skip
        async with self.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self.keys.worker(name))
            rows = await pipe.execute()
        found = []
        for name, row in zip(names, rows, strict=True):
            f = {as_str(k): as_str(v) for k, v in row.items()}
            if not f.get("seen"):  # expired, or removed, since the index was read
                continue
            seen = int(f["seen"])
            started, pid = int(f.get("started", seen)), int(f.get("pid", 0))
            found.append(Worker(name, f.get("host", "?"), pid, started, seen, (now - seen) / 1000))
        return sorted(found, key=lambda w: -w.started_ms)

    async def run(self, name: str, host: str, pid: int, stop: asyncio.Event) -> None:
        """Beat every `BEAT_EVERY` seconds until `stop`; a Redis outage only skips beats."""
        while not stop.is_set():
            try:
                await self.beat(name, host, pid)
            except UNREACHABLE as exc:
                log.debug("heartbeat skipped worker=%s: %s", name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), BEAT_EVERY)
