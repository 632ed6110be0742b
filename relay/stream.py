"""The updates stream: consumer-group reads, acknowledgement, takeover and dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions as redis_exceptions
from redis.exceptions import ResponseError

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
class DeadLetter:
    """An entry or a delivery given up on, with the reason."""

    id: str
    source_id: str
    reason: str
    payload: str
    destination: str
    failed_at: float


def _entries(raw: Any) -> list[Entry]:
    out = []
    for entry_id, fields in raw or []:
        if fields is None:  # deleted from the stream (trimmed) while pending
            out.append(Entry(as_str(entry_id), {}))
            continue
        out.append(Entry(as_str(entry_id), {as_str(k): as_str(v) for k, v in fields.items()}))
    return out


class Stream:
    """A consumer of the updates stream within the dispatchers' consumer group."""

    def __init__(self, client: aioredis.Redis, keys: Keys, consumer: str) -> None:
        self.client = client
        self.keys = keys
        self.consumer = consumer
        self._pending_checked = False

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
                self.keys.group, self.consumer, {self.keys.updates: "0"}, count=count
            )
            entries = _entries(raw[0][1]) if raw else []
            if entries:
                return entries
            self._pending_checked = True
        raw = await self.client.xreadgroup(
            self.keys.group, self.consumer, {self.keys.updates: ">"}, count=count, block=block_ms
        )
        return _entries(raw[0][1]) if raw else []

    async def ack(self, entry_id: str) -> None:
        await self.client.xack(self.keys.updates, self.keys.group, entry_id)

    async def claim(self, min_idle_ms: int, count: int) -> list[Entry]:
        """Take over entries other consumers left pending for longer than `min_idle_ms`."""
        claimed: list[Entry] = []
        cursor = "0-0"
        while len(claimed) < count:
            result = await self.client.xautoclaim(
                self.keys.updates, self.keys.group, self.consumer, min_idle_ms, cursor,
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

    async def dead_letter(self, entry: Entry, reason: str, destination: str = "") -> str:
        """Move `entry` to the dead-letter stream with `reason`, and acknowledge it."""
        async with self.client.pipeline(transaction=True) as pipe:
            fields = _dead_fields(entry.id, entry.fields.get("update", ""), reason, destination)
            pipe.xadd(self.keys.dead_letters, fields)
            pipe.xack(self.keys.updates, self.keys.group, entry.id)
            result = await pipe.execute()
        log.warning("dead letter entry=%s dest=%s reason=%s", entry.id, destination or "-", reason)
        return as_str(result[0])


def _dead_fields(source_id: str, payload: str, reason: str, destination: str) -> dict[Any, Any]:
    """The fields of one dead letter: what failed, why, where, and when."""
    return {
        "source_id": source_id,
        "reason": reason,
        "payload": payload,
        "destination": destination,
        "failed_at": f"{time.time():.3f}",
    }


async def record_dead_delivery(
    client: aioredis.Redis, keys: Keys, source_id: str, payload: str, reason: str, destination: str
) -> None:
    """Record one failed delivery (an update id and its JSON) with the reason."""
    await client.xadd(keys.dead_letters, _dead_fields(source_id, payload, reason, destination))
    log.warning("dead letter update=%s dest=%s reason=%s", source_id, destination, reason)


async def list_dead_letters(
    client: aioredis.Redis, keys: Keys, count: int = 100
) -> list[DeadLetter]:
    """The newest dead letters first."""
    raw = await client.xrevrange(keys.dead_letters, count=count)
    out = []
    for entry in _entries(raw):
        f = entry.fields
        out.append(
            DeadLetter(
                id=entry.id,
                source_id=f.get("source_id", ""),
                reason=f.get("reason", ""),
                payload=f.get("payload", ""),
                destination=f.get("destination", ""),
                failed_at=float(f.get("failed_at", "0") or 0),
            )
        )
    return out
