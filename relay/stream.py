"""The updates stream: appends, consumer-group reads, acknowledgement, takeover, fan-out state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions as redis_exceptions
from redis.exceptions import ResponseError

from relay.dead_letters import DeadLetters
from relay.keys import Keys, as_str

log = logging.getLogger(__name__)


# Errors meaning Redis itself is unreachable (as opposed to refusing one command).
UNREACHABLE = (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError, OSError)


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that a library swallowed (the task still says `cancelling`).

    redis-py can absorb a `CancelledError` that lands in the middle of a command; a loop that
    only waited for the exception would then run on after its task was cancelled.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Outage:
    """Waits out a Redis outage with capped exponential backoff, logging once per outage."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.delay = 0.0

    async def wait(self, exc: BaseException, stop: asyncio.Event) -> None:
        raise_if_cancelled()
        if self.delay == 0:
            log.warning("%s: Redis unavailable, retrying: %s", self.who, exc)
        self.delay = min(5.0, max(0.1, self.delay * 2))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.delay)

    def over(self) -> None:
        if self.delay:
            log.warning("%s: Redis is back", self.who)
        self.delay = 0.0


@dataclass(frozen=True)
class Entry:
    """One stream entry: its id and its fields."""

    id: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Consumer:
    """A member of the dispatchers' group, as `relay status` shows it."""

    name: str
    pending: int
    idle_seconds: float


def _entries(raw: Any) -> list[Entry]:
    out = []
    for entry_id, fields in raw or []:
        if fields is None:  # deleted from the stream (trimmed) while pending
            out.append(Entry(as_str(entry_id), {}))
            continue
        out.append(Entry(as_str(entry_id), {as_str(k): as_str(v) for k, v in fields.items()}))
    return out


class Stream:
    """The updates stream, its consumer group and the state of each entry's fan-out.

    `consumer` names this worker within the group; `read` and `claim` need it, the rest (an
    append, a count) does not.
    """

    def __init__(self, client: aioredis.Redis, keys: Keys, consumer: str = "") -> None:
        self.client = client
        self.keys = keys
        self.consumer = consumer
        self.dead_letters = DeadLetters(client, keys)
        self._pending_checked = False

    # appending -------------------------------------------------------------------------------

    def append_in(self, pipe: Any, payload: str, maxlen: int | None = None) -> None:
        """Queue the XADD of an update's JSON on `pipe`; its result is the new entry id.

        Ingest runs it in the transaction that writes the registry, so both happen or neither.
        """
        pipe.xadd(self.keys.updates, {"update": payload}, maxlen=maxlen, approximate=True)

    async def append(self, payload: str) -> str:
        """Append an update's JSON as it is (a dead letter sent through again)."""
        return as_str(await self.client.xadd(self.keys.updates, {"update": payload}))

    # the consumer group ----------------------------------------------------------------------

    async def ensure_group(self) -> None:
        """Create the consumer group (from the stream's start) if it does not exist yet."""
        try:
            await self.client.xgroup_create(
                self.keys.updates, self.keys.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, count: int, block_ms: int) -> list[Entry]:
        """Entries for this consumer: first its own unacknowledged ones, then new ones."""
        if not self._pending_checked:
            # After a restart under the same name, finish what this consumer held.
            raw: Any = await self.client.xreadgroup(
                self.keys.group, self._name(), {self.keys.updates: "0"}, count=count
            )
            entries = _entries(raw[0][1]) if raw else []
            if entries:
                return entries
            self._pending_checked = True
        raw = await self.client.xreadgroup(
            self.keys.group, self._name(), {self.keys.updates: ">"}, count=count, block=block_ms
        )
        return _entries(raw[0][1]) if raw else []

    def _name(self) -> str:
        if not self.consumer:
            raise ValueError("reading the stream needs a consumer name")
        return self.consumer

    async def ack(self, entry_id: str) -> None:
        """Acknowledge an entry whose work is durable, and drop its fan-out state."""
        async with self.client.pipeline(transaction=True) as pipe:
            self.ack_in(pipe, entry_id)
            await pipe.execute()

    def ack_in(self, pipe: Any, entry_id: str) -> None:
        """Queue `ack` on `pipe` (to share a transaction with other writes)."""
        pipe.xack(self.keys.updates, self.keys.group, entry_id)
        pipe.hdel(self.keys.fanout_cursors, entry_id)
        pipe.hdel(self.keys.entry_errors, entry_id)

    async def claim(self, min_idle_ms: int, count: int) -> list[Entry]:
        """Take over entries other consumers left pending for longer than `min_idle_ms`."""
        claimed: list[Entry] = []
        cursor = "0-0"
        while len(claimed) < count:
            result = await self.client.xautoclaim(
                self.keys.updates, self.keys.group, self._name(), min_idle_ms, cursor,
                count=count - len(claimed),
            )  # fmt: skip
            cursor = as_str(result[0])
            claimed.extend(_entries(result[1]))
            if cursor == "0-0":
                break
        if claimed:
            log.info("claimed %d idle entries consumer=%s", len(claimed), self.consumer)
        return claimed

    async def times_delivered(self, entry_id: str) -> int:
        """How often the group has handed this entry to a consumer."""
        rows = await self.client.xpending_range(
            self.keys.updates, self.keys.group, min=entry_id, max=entry_id, count=1
        )
        return int(rows[0]["times_delivered"]) if rows else 0

    async def low_water(self) -> str | None:
        """The oldest entry still being fanned out by any worker (None: none is).

        Every job queued from an older entry is final in its queue position.
        """
        summary = await self.client.xpending(self.keys.updates, self.keys.group)
        low = summary.get("min") if summary else None
        return as_str(low) if low else None

    async def dead_letter(self, entry: Entry, reason: str) -> str:
        """Move `entry` to the dead-letter stream with `reason`, and acknowledge it."""
        async with self.client.pipeline(transaction=True) as pipe:
            payload = entry.fields.get("update", "")
            self.dead_letters.add_in(pipe, entry.id, payload, reason)
            self.ack_in(pipe, entry.id)
            result = await pipe.execute()
        log.warning("dead letter entry=%s reason=%s", entry.id, reason)
        return as_str(result[0])

    # one entry's fan-out ---------------------------------------------------------------------

    async def fanout_cursor(self, entry_id: str) -> int | None:
        """Where the entry's interrupted fan-out stopped (None: it has not begun)."""
        raw = await self.client.hget(self.keys.fanout_cursors, entry_id)
        return None if raw is None else int(raw)

    async def save_fanout_cursor(self, entry_id: str, cursor: int) -> None:
        await self.client.hset(self.keys.fanout_cursors, entry_id, cursor)

    async def record_error(self, entry_id: str, error: str) -> None:
        """Keep why the entry's fan-out failed: its reason if it ends as a dead letter."""
        await self.client.hset(self.keys.entry_errors, entry_id, error)

    async def last_error(self, entry_id: str) -> str | None:
        raw = await self.client.hget(self.keys.entry_errors, entry_id)
        return None if raw is None else as_str(raw)

    # for status and metrics ------------------------------------------------------------------

    def length_in(self, pipe: Any) -> None:
        """Queue the stream's length on `pipe` (its result is an int)."""
        pipe.xlen(self.keys.updates)

    async def length(self) -> int:
        return int(await self.client.xlen(self.keys.updates))

    async def pending_count(self) -> int:
        """Entries read by a worker and not yet fanned out (0 before the group exists)."""
        try:
            summary: Any = await self.client.xpending(self.keys.updates, self.keys.group)
        except ResponseError:  # no stream or no group yet
            return 0
        return int(summary["pending"])

    async def consumers(self) -> tuple[Consumer, ...]:
        """The group's members (none before the group exists)."""
        try:
            raw: Any = await self.client.xinfo_consumers(self.keys.updates, self.keys.group)
        except ResponseError:  # no stream or no group yet
            return ()
        return tuple(
            Consumer(as_str(c["name"]), int(c["pending"]), int(c["idle"]) / 1000) for c in raw
        )
