"""Per-destination delivery queues, the ready set that schedules them, and leases.

A destination's queue is a sorted set of update ids, scored by the stream position of the entry
that first queued them, plus a hash id → version. A queued id means "bring this destination's
copy of the update up to date"; what that takes (send, edit, delete or nothing) is decided when
it is served, from the update's latest revision and the ledger. So an edit of an update still
queued merges into it (only the latest revision is sent), a delete cancels it, and an edit can
never overtake its original: they are one job. The version changes on every merge, so a merge
that lands while the job is being served keeps the job at the head and it is served again.

Scores keep stream order even when several workers fan out neighbouring entries at once; the
sender serves a job only when no older entry is still being fanned out (`Stream.low_water`).

`ready` is a sorted set destination → the time (ms) it may next be served: now when work
arrives, later when a budget is closed, or a lease's end while a worker serves it. Enqueuing
publishes on `wake`, so idle senders start at once. Failed attempts are counted per job.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from relay.errors import InvalidUpdate
from relay.keys import Keys, as_str
from relay.model import Destination
from relay.scripts import Script

log = logging.getLogger(__name__)

# KEYS: order zset, versions hash. ARGV: update id, version, score. 1 if newly queued.
_ENQUEUE = """
local new = redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
if new == 0 then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
redis.call('ZADD', KEYS[1], 'NX', ARGV[3], ARGV[1])
return new
"""

# KEYS: order zset, versions hash. ARGV: update id, version served. Returns the queue length.
_COMPLETE = """
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if head == ARGV[1] and redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return redis.call('ZCARD', KEYS[1])
"""

# KEYS: order zset, versions hash. Returns {id, score, version, length} of the head job.
_HEAD = """
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local length = redis.call('ZCARD', KEYS[1])
if first[1] == nil then return {false, '0', false, length} end
return {first[1], first[2], redis.call('HGET', KEYS[2], first[1]), length}
"""

# KEYS: lease. ARGV: owner, ttl ms. Take, or renew our own.
_LEASE = """
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def position(entry_id: str) -> int:
    """A stream entry id `ms-seq` as a sortable integer score (exact in a double)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms) * 4096 + min(int(seq or 0), 4095)


@dataclass(frozen=True)
class Job:
    """The head of a destination's queue: an update id, the version served, its position."""

    update_id: str
    version: str
    position: int = 0
    backlog: int = 1  # jobs in the queue, this one included


class Queues:
    """Enqueue, serve and schedule destinations' deliveries."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._enqueue = Script(client, _ENQUEUE)
        self._complete = Script(client, _COMPLETE)
        self._head = Script(client, _HEAD)
        self._lease = Script(client, _LEASE)
        self._release = Script(client, _RELEASE)

    async def enqueue(
        self, dests: Iterable[Destination], update_id: str, version: str, at: int | None = None
    ) -> int:
        """Queue `update_id` for every destination (merging into a queued one); mark them due.

        `version` is the stream entry id that asks for it; the job's place in the queue is that
        entry's position (or `at`). Idempotent: enqueuing the same update twice leaves one job.
        Returns how many destinations got a new job.
        """
        score = position(version) if at is None else at
        dests = list(dests)
        if not dests:
            return 0
        async with self.client.pipeline(transaction=False) as pipe:
            for d in dests:
                k = str(d)
                await self._enqueue(
                    keys=[self.keys.queue(k), self.keys.queue_versions(k)],
                    args=[update_id, version, score],
                    client=pipe,
                )
            pipe.zadd(self.keys.ready, {str(d): now_ms() for d in dests}, nx=True)
            self.wake_in(pipe)
            results = await pipe.execute()
        return sum(int(r) for r in results[: len(dests)])

    async def head(self, dest: Destination, client: Any = None) -> Job | None:
        """The oldest job and the queue's length, in one round trip (`client`: a pipeline to
        join, and then `parse_head` its result)."""
        k = str(dest)
        keys = [self.keys.queue(k), self.keys.queue_versions(k)]
        raw = await self._head(keys=keys, client=client)
        return None if client is not None else self.parse_head(raw)

    @staticmethod
    def parse_head(raw: Any) -> Job | None:
        if isinstance(raw, Exception):
            raise raw
        update_id, score, version, length = raw
        if update_id is None:
            return None
        return Job(as_str(update_id), as_str(version or b""), int(float(score)), int(length))

    async def complete(self, dest: Destination, job: Job, client: Any = None) -> Any:
        """Pop `job` unless it was merged into meanwhile (`client`: a pipeline to join)."""
        k = str(dest)
        return await self._complete(
            keys=[self.keys.queue(k), self.keys.queue_versions(k)],
            args=[job.update_id, job.version],
            client=client,
        )

    async def pending(self, dest: Destination) -> list[str]:
        """Every queued update id, oldest first."""
        return [as_str(x) for x, _ in await self.positions(dest)]

    async def positions(self, dest: Destination, limit: int = 0) -> list[tuple[str, int]]:
        """Queued update ids with their positions, oldest first: all, or the first `limit`."""
        raw: Any = await self.client.zrange(
            self.keys.queue(str(dest)), 0, limit - 1, withscores=True
        )
        return [(as_str(x), int(score)) for x, score in raw]

    async def length(self, dest: Destination) -> int:
        return int(await self.client.zcard(self.keys.queue(str(dest))))

    async def drop(self, dest: Destination, update_ids: Iterable[str]) -> None:
        """Remove these jobs from a destination's queue (sent in a digest)."""
        k = str(dest)
        async with self.client.pipeline(transaction=True) as pipe:
            for update_id in update_ids:
                pipe.zrem(self.keys.queue(k), update_id)
                pipe.hdel(self.keys.queue_versions(k), update_id)
            await pipe.execute()

    async def clear(self, dest: Destination) -> list[str]:
        """Empty a destination's queue (it is gone); return what was queued."""
        ids = await self.pending(dest)
        k = str(dest)
        await self.client.delete(self.keys.queue(k), self.keys.queue_versions(k))
        await self.client.zrem(self.keys.ready, k)
        return ids

    # scheduling ----------------------------------------------------------------------------

    async def due(self, limit: int) -> list[Destination]:
        """Destinations whose turn has come, at most `limit` (see `turns`)."""
        return (await self.turns(limit))[0]

    async def turns(self, limit: int) -> tuple[list[Destination], float | None]:
        """Destinations whose turn has come (at most `limit`), and the seconds until the next
        one after them is due (0: more are due now; None: nothing else is scheduled), read in
        one round trip.

        A member that is no destination (written around the relay) could never be served, and
        would be due forever: it is dropped, with a log line, so that it blocks no worker.
        """
        raw: Any = await self.client.zrange(self.keys.ready, 0, limit, withscores=True)
        now = now_ms()
        due: list[Destination] = []
        for member, score in raw:
            if score > now or len(due) == limit:
                return due, max(0.0, (score - now) / 1000)
            try:
                due.append(Destination.parse(as_str(member)))
            except (UnicodeDecodeError, InvalidUpdate) as exc:
                log.warning("dropped unreadable ready member %r: %s", member, exc)
                await self.client.zrem(self.keys.ready, member)
        return due, None

    async def schedule(self, dest: Destination, delay: float = 0.0) -> None:
        await self.client.zadd(self.keys.ready, {str(dest): now_ms() + int(delay * 1000)})

    async def lease(self, dest: Destination, owner: str, ttl: float) -> bool:
        """Take (or renew) the right to serve `dest` for `ttl` seconds."""
        return (await self.lease_many([dest], owner, ttl))[0]

    async def lease_many(self, dests: list[Destination], owner: str, ttl: float) -> list[bool]:
        """`lease` each of `dests`, in one round trip; which ones we now hold."""
        if not dests:
            return []
        ms = int(ttl * 1000)
        async with self.client.pipeline(transaction=False) as pipe:
            for dest in dests:
                await self._lease(keys=[self.keys.lease(str(dest))], args=[owner, ms], client=pipe)
            # While leased, other workers see it due only when the lease would have expired.
            # (Sent in the same round trip: if another worker holds the lease, this only makes
            # its destination due when our lease would have ended, and it reschedules it anyway
            # when it is done.)
            pipe.zadd(self.keys.ready, {str(d): now_ms() + ms for d in dests}, xx=True)
            *got, _ = await pipe.execute()
        return [bool(g) for g in got]

    async def release_and_schedule(self, dest: Destination, owner: str, delay: float) -> None:
        """Release the lease, then make `dest` due in `delay` seconds, in one round trip.

        In that order: a worker that finds it due finds it free. (A worker that fails to lease
        a destination still pushes its ready time to its own lease's end, see `lease`; before
        a release that could hold a destination with work back by a lease's length.)
        """
        k = str(dest)
        async with self.client.pipeline(transaction=False) as pipe:
            await self._release(keys=[self.keys.lease(k)], args=[owner], client=pipe)
            pipe.zadd(self.keys.ready, {k: now_ms() + int(delay * 1000)})
            await pipe.execute()

    async def release_if_empty(self, dest: Destination, owner: str) -> bool:
        """Release the lease and drop an empty queue from the ready set, in one round trip;
        re-add it if work raced in. True if the destination is idle."""
        k = str(dest)
        async with self.client.pipeline(transaction=False) as pipe:
            await self._release(keys=[self.keys.lease(k)], args=[owner], client=pipe)
            pipe.zrem(self.keys.ready, k)
            # An enqueue before ZREM pushed first and then ZADD NX: look at the queue after it.
            pipe.zcard(self.keys.queue(k))
            *_, length = await pipe.execute()
        if length:
            await self.schedule(dest)
            return False
        return True

    # failed attempts -----------------------------------------------------------------------

    async def count_attempt(self, dest: Destination, update_id: str) -> int:
        """Count one more failed attempt at the job; return how many there were."""
        return int(await self.client.hincrby(self.keys.attempts(str(dest)), update_id, 1))

    async def reset_attempts(self, dest: Destination, update_id: str) -> None:
        await self.client.hdel(self.keys.attempts(str(dest)), update_id)

    def reset_attempts_in(self, pipe: Any, dest: Destination, update_id: str) -> None:
        """Queue `reset_attempts` on `pipe` (it shares the round trip after a send)."""
        pipe.hdel(self.keys.attempts(str(dest)), update_id)

    # for status, metrics and idle senders --------------------------------------------------

    def waiting_in(self, pipe: Any) -> None:
        """Queue the count of destinations with work on `pipe` (its result is an int)."""
        pipe.zcard(self.keys.ready)

    async def depths(
        self, limit: int = 10_000, batch: int = 500
    ) -> tuple[dict[str, tuple[int, int]], bool]:
        """Per platform: (destinations with work, jobs queued), from the first `limit` members
        of the ready set read `batch` at a time; and whether some were left unread."""
        depths: dict[str, tuple[int, int]] = {}
        cursor, seen = 0, 0
        while True:
            cursor, raw = await self.client.zscan(self.keys.ready, cursor, count=batch)
            members = [as_str(m) for m, _ in raw][: limit - seen]
            async with self.client.pipeline(transaction=False) as pipe:
                for m in members:
                    pipe.zcard(self.keys.queue(m))
                lengths = await pipe.execute()
            for m, n in zip(members, lengths, strict=True):
                dests, jobs = depths.get(m.partition(":")[0], (0, 0))
                depths[m.partition(":")[0]] = (dests + 1, jobs + int(n))
            seen += len(members)
            if len(members) < len(raw) or (seen >= limit and cursor != 0):
                return depths, True
            if cursor == 0:
                return depths, False

    async def waiting(self) -> int:
        """How many destinations have deliveries queued (or are being served)."""
        return int(await self.client.zcard(self.keys.ready))

    def wake_in(self, pipe: Any) -> None:
        """Queue a wake-up of idle senders on `pipe` (jobs held behind an entry may go now)."""
        pipe.publish(self.keys.wake, "1")

    @contextlib.asynccontextmanager
    async def wake_ups(self) -> AsyncIterator[PubSub]:
        """A subscription to the wake-ups: any message means work was queued."""
        pubsub = self.client.pubsub()
        try:
            await pubsub.subscribe(self.keys.wake)
            yield pubsub
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
