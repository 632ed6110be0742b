"""The ready set that schedules destinations, and the wake-ups of idle senders.

`ready` is a sorted set destination → the time (ms) it may next be served: now when work
arrives, later when a budget is closed, or a lease's end while a worker serves it (written in
the pipelines of `relay.queues`). Enqueuing publishes on `wake`, so idle senders start at once.

Both are split in `redis.shards` keys by destination (`Keys.ready(shard)`, `Keys.wake(shard)`),
so that no one key, nor one node of a cluster, carries every delivery: a sender reads the first
few of every shard (one pipeline: one round trip per node) and listens on every shard's channel
(sharded pub/sub, SSUBSCRIBE/SPUBLISH, on a cluster). With one shard, the default on a single
server, it is one key and one channel, read and written as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster

from relay.errors import InvalidUpdate
from relay.keys import Keys, as_str, shard_of
from relay.model import Destination

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


class Ready:
    """The schedule of destinations with work, in `keys.shards` shards."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self.shards = range(keys.shards)
        self.cluster = isinstance(client, RedisCluster)

    def _of(self, dest: Destination | str) -> str:
        return self.keys.ready(shard_of(str(dest), self.keys.shards))

    def add_in(self, pipe: Any, dests: Iterable[Destination | str], at: int, **flags: bool) -> int:
        """Queue ZADD of `dests` due at `at` (ms) on `pipe`, one per shard (`flags`: `nx`, `xx`);
        returns how many commands that is."""
        groups: dict[str, list[str]] = {}
        for d in dests:
            groups.setdefault(self._of(d), []).append(str(d))
        for ready, members in groups.items():
            pipe.zadd(ready, dict.fromkeys(members, at), **flags)
        return len(groups)

    def keys_of(self, dests: Iterable[Destination | str]) -> list[str]:
        """The shards of the ready set that hold `dests`."""
        return list({self._of(d) for d in dests})

    def remove_in(self, pipe: Any, dest: Destination | str) -> None:
        pipe.zrem(self._of(dest), str(dest))

    async def remove(self, dest: Destination | str) -> None:
        await self.client.zrem(self._of(dest), str(dest))

    async def schedule(self, dest: Destination, delay: float = 0.0) -> None:
        await self.client.zadd(self._of(dest), {str(dest): now_ms() + int(delay * 1000)})

    async def due(self, limit: int) -> list[Destination]:
        """Destinations whose turn has come, at most `limit` (see `turns`)."""
        return (await self.turns(limit))[0]

    async def turns(self, limit: int) -> tuple[list[Destination], float | None]:
        """Destinations whose turn has come (at most `limit`), and the seconds until the next
        one after them is due (0: more are due now; None: nothing else is scheduled), read in
        one round trip (one per node of a cluster, sent together).

        A member that is no destination (written around the relay) could never be served, and
        would be due forever: it is dropped, with a log line, so that it blocks no worker.
        """
        if len(self.shards) == 1:
            raw: Any = await self.client.zrange(self.keys.ready(), 0, limit, withscores=True)
            found = [(score, member, self.keys.ready()) for member, score in raw]
        else:  # the first `limit` + 1 of each shard, merged
            async with self.client.pipeline(transaction=False) as pipe:
                for shard in self.shards:
                    pipe.zrange(self.keys.ready(shard), 0, limit, withscores=True)
                shards = await pipe.execute()
            found = sorted(
                (score, member, self.keys.ready(shard))
                for shard, raw in zip(self.shards, shards, strict=True)
                for member, score in raw
            )
        now = now_ms()
        due: list[Destination] = []
        for score, member, ready in found:
            if score > now or len(due) == limit:
                return due, max(0.0, (score - now) / 1000)
            try:
                due.append(Destination.parse(as_str(member)))
            except (UnicodeDecodeError, InvalidUpdate) as exc:
                log.warning("dropped unreadable ready member %r: %s", member, exc)
                await self.client.zrem(ready, member)
        return due, None

    def waiting_in(self, pipe: Any) -> int:
        """Queue the count of destinations with work on `pipe`: one int per shard, to add up;
        returns how many results that is."""
        for shard in self.shards:
            pipe.zcard(self.keys.ready(shard))
        return len(self.shards)

    async def waiting(self) -> int:
        """How many destinations have deliveries queued (or are being served)."""
        async with self.client.pipeline(transaction=False) as pipe:
            self.waiting_in(pipe)
            return sum(int(n) for n in await pipe.execute())

    async def members(self, limit: int, batch: int) -> tuple[list[str], bool]:
        """The first `limit` destinations with work, read `batch` at a time with ZSCAN, shard
        by shard; and whether some were left unread."""
        found: list[str] = []
        for shard in self.shards:
            ready = self.keys.ready(shard)
            if len(found) >= limit:  # full: anything in the shards left is left unread
                if await self.client.zcard(ready):
                    return found, True
                continue
            cursor = 0
            while True:
                cursor, raw = await self.client.zscan(ready, cursor, count=batch)
                members = [as_str(m) for m, _ in raw]
                take = members[: limit - len(found)]
                found += take
                if len(take) < len(members) or (len(found) >= limit and cursor != 0):
                    return found, True
                if cursor == 0:
                    break
        return found, False

    def wake_in(self, pipe: Any, spread: str = "") -> None:
        """Queue a wake-up of idle senders on `pipe`, on the channel of the shard of `spread` (a
        destination, an entry id: anything that spreads them; any one wakes every sender)."""
        channel = self.keys.wake(shard_of(spread, self.keys.shards))
        if self.cluster:
            pipe.spublish(channel, "1")
        else:
            pipe.publish(channel, "1")

    @contextlib.asynccontextmanager
    async def wake_ups(self) -> AsyncIterator[WakeUps]:
        """A subscription to the wake-ups of every shard: any message means work was queued."""
        channels = [self.keys.wake(shard) for shard in self.shards]
        pubsub = self.client.pubsub()
        try:
            if self.cluster:
                await pubsub.ssubscribe(*channels)
            else:
                await pubsub.subscribe(*channels)
            async with WakeUps(pubsub) as wake_ups:
                yield wake_ups
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


class WakeUps:
    """Waits for a wake-up on a subscription. On a cluster the shard channels live on several
    nodes, one connection each, each read by a task of its own, so that a message on any node
    ends the wait at once (redis-py's `get_sharded_message` polls them one after the other)."""

    def __init__(self, pubsub: PubSub) -> None:
        nodes = getattr(pubsub, "node_pubsub_mapping", None)  # a cluster's, after SSUBSCRIBE
        self._pubsubs: list[PubSub] = list(nodes.values()) if nodes else [pubsub]
        self._woken = asyncio.Event()
        self._error: BaseException | None = None
        self._readers: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> WakeUps:
        if len(self._pubsubs) > 1:
            self._readers = [asyncio.create_task(self._read(p)) for p in self._pubsubs]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)

    async def _read(self, pubsub: PubSub) -> None:
        try:
            while True:
                if await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0):
                    self._woken.set()
        except Exception as exc:  # the node went away: the waiter raises it
            self._error = exc
            self._woken.set()

    async def wait(self, seconds: float) -> bool:
        """Whether a wake-up came within `seconds` (raises what broke a subscription)."""
        if not self._readers:
            got = await self._pubsubs[0].get_message(
                ignore_subscribe_messages=True, timeout=seconds
            )
            return got is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), seconds)
        if self._error is not None:
            raise self._error
        woken = self._woken.is_set()
        self._woken.clear()
        return woken
