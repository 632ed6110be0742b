"""Per-destination delivery queues, and the leases of the workers serving them.

A destination's queue is a sorted set of update ids, scored by the stream position of the entry
that first queued them, plus a hash id → version. A queued id means "bring this destination's
copy of the update up to date"; what that takes (send, edit, delete or nothing) is decided when
it is served, from the update's latest revision and the ledger. So an edit of an update still
queued merges into it (only the latest revision is sent), a delete cancels it, and an edit can
never overtake its original: they are one job. The version changes on every merge, so a merge
that lands while the job is being served keeps the job at the head and it is served again.

Scores keep stream order even when several workers fan out neighbouring entries at once; the
sender serves a job only when no older entry is still being fanned out (`Stream.low_water`).

Its pipelines also schedule the destinations in the ready set and wake idle senders
(`relay.ready`). Failed attempts are counted per job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from relay.keys import Keys, as_str
from relay.model import Destination
from relay.ready import Ready, now_ms
from relay.replication import Replication
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
        self.ready = Ready(client, keys)
        self.replication = Replication(client)

    async def enqueue(
        self,
        dests: Iterable[Destination],
        update_id: str,
        version: str,
        at: int | None = None,
        also: Callable[[Any], list[str]] | None = None,
    ) -> int:
        """Queue `update_id` for every destination (merging into a queued one); mark them due.

        `version` is the stream entry id that asks for it; the job's place in the queue is that
        entry's position (or `at`). Idempotent: enqueuing the same update twice leaves one job.
        Returns how many destinations got a new job. On a cluster, `also` queues more writes
        in the jobs' pipeline and returns their keys, and each pipeline ends with `WAIT` on
        every node written (`relay.replication`), so that it all survives a failover.
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
            if self.replication.cluster:
                # A cluster pipeline runs each node's part at once, and the jobs must be queued
                # before their destinations are due (see `release_if_empty`): two round trips.
                written = also(pipe) if also is not None else []
                written += [self.keys.queue(str(d)) for d in dests]
                results = await self._replicated(pipe, written)
                async with self.client.pipeline(transaction=False) as due:
                    self.ready.add_in(due, dests, now_ms(), nx=True)
                    self.ready.wake_in(due, str(dests[0]))
                    await self._replicated(due, self.ready.keys_of(dests))
            else:
                self.ready.add_in(pipe, dests, now_ms(), nx=True)
                self.ready.wake_in(pipe, str(dests[0]))
                results = await pipe.execute()
        return sum(int(r) for r in results[: len(dests)])

    async def _replicated(self, pipe: Any, written: list[str]) -> list[Any]:
        """Run `pipe` with `WAIT` on the nodes of `written` at its end (relay.replication)."""
        nodes = self.replication.wait_in(pipe, written)
        results: list[Any] = await pipe.execute()
        self.replication.check(nodes, results)
        return results

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
        await self.ready.remove(k)
        return ids

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
            self.ready.add_in(pipe, dests, now_ms() + ms, xx=True)
            got = (await pipe.execute())[: len(dests)]
        return [bool(g) for g in got]

    async def release_and_schedule(self, dest: Destination, owner: str, delay: float) -> None:
        """Release the lease, then make `dest` due in `delay` seconds, in one round trip.

        In that order: a worker that finds it due finds it free. (A worker that fails to lease
        a destination still pushes its ready time to its own lease's end, see `lease`; before
        a release that could hold a destination with work back by a lease's length.)
        """
        k = str(dest)
        if self.ready.cluster:  # in that order: the lease and the ready set are on two nodes
            await self._release(keys=[self.keys.lease(k)], args=[owner])
            await self.ready.schedule(dest, delay)
            return
        async with self.client.pipeline(transaction=False) as pipe:
            await self._release(keys=[self.keys.lease(k)], args=[owner], client=pipe)
            self.ready.add_in(pipe, [k], now_ms() + int(delay * 1000))
            await pipe.execute()

    async def release_if_empty(self, dest: Destination, owner: str) -> bool:
        """Release the lease and drop an empty queue from the ready set, in one round trip;
        re-add it if work raced in. True if the destination is idle."""
        k = str(dest)
        async with self.client.pipeline(transaction=False) as pipe:
            await self._release(keys=[self.keys.lease(k)], args=[owner], client=pipe)
            self.ready.remove_in(pipe, k)
            # An enqueue before ZREM pushed first and then ZADD NX: look at the queue after it.
            # (On a cluster the queue is on another node than the ready set, and a pipeline
            # runs each node's part at once: so there, after it, in a round trip of its own.)
            if not self.ready.cluster:
                pipe.zcard(self.keys.queue(k))
            *_, length = await pipe.execute()
        if self.ready.cluster:
            length = await self.client.zcard(self.keys.queue(k))
        if length:
            await self.ready.schedule(dest)
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

    # for status ----------------------------------------------------------------------------

    async def depths(
        self, limit: int = 10_000, batch: int = 500
    ) -> tuple[dict[str, tuple[int, int]], bool]:
        """Per platform: (destinations with work, jobs queued), from the first `limit` members
        of the ready set read `batch` at a time; and whether some were left unread."""
        members, partial = await self.ready.members(limit, batch)
        depths: dict[str, tuple[int, int]] = {}
        for i in range(0, len(members), batch):
            async with self.client.pipeline(transaction=False) as pipe:
                for m in members[i : i + batch]:
                    pipe.zcard(self.keys.queue(m))
                lengths = await pipe.execute()
            for m, n in zip(members[i : i + batch], lengths, strict=True):
                dests, jobs = depths.get(m.partition(":")[0], (0, 0))
                depths[m.partition(":")[0]] = (dests + 1, jobs + int(n))
        return depths, partial
