"""The updates stream: appends, consumer-group reads, acknowledgement, takeover, trimming."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from relay.dead_letters import DeadLetters
from relay.entries import Entry as Entry  # where the stream's users find it
from relay.entries import entries as _entries
from relay.keys import Keys, as_str
from relay.outage import UNREACHABLE as UNREACHABLE  # where the stream's users find them
from relay.outage import Outage as Outage
from relay.outage import raise_if_cancelled as raise_if_cancelled
from relay.scripts import Script

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumer:
    """A member of the dispatchers' group, as `relay status` shows it."""

    name: str
    pending: int
    idle_seconds: float


def _id(raw: Any) -> tuple[int, int]:
    """A stream id `ms-seq` as a pair that sorts like the stream."""
    ms, _, seq = as_str(raw).partition("-")
    return int(ms), int(seq or 0)


# KEYS[1]: the stream. ARGV: group, consumer, heir ('' for none), idle ms. See `Stream.retire`.
_RETIRE = """
while ARGV[3] ~= '' do
  local ids = {}
  for _, p in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 500, ARGV[2])) do
    ids[#ids + 1] = p[1]
  end
  if #ids == 0 then break end
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, unpack(ids), 'IDLE', ARGV[4], 'JUSTID')
end
local left = #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if left == 0 then redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) end
return left
"""

# KEYS[1]: the stream. ARGV: group, consumer, entry id. If this consumer still holds the entry,
# reset its idle time (XCLAIM with JUSTID counts no delivery) and answer 1; else 0.
_HOLD = """
local row = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)[1]
if row == nil or row[2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""


def is_nogroup(exc: ResponseError) -> bool:
    """The stream or its group is gone (deleted, or Redis flushed): recreate, never crash."""
    return str(exc).startswith("NOGROUP")


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
        self._hold = Script(client, _HOLD)

    # appending -------------------------------------------------------------------------------

    def append_in(self, pipe: Any, payload: str) -> None:
        """Queue the XADD of an update's JSON on `pipe`; its result is the new entry id.

        Ingest runs it in the transaction that writes the registry, so both happen or neither.
        No MAXLEN here: a length cap would delete entries no dispatcher has read yet (`trim`).
        """
        pipe.xadd(self.keys.updates, {"update": payload})

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

    async def hold(self, entry_id: str) -> bool:
        """Keep an entry this consumer is still fanning out from looking idle to the others'
        `claim`; False if one of them has claimed it already."""
        args = [self.keys.group, self._name(), entry_id]
        return bool(await self._hold(keys=[self.keys.updates], args=args))

    async def retire(self, heir: str | None, idle_ms: int) -> bool:
        """Leave the group on a clean stop: hand this consumer's pending entries to `heir`.

        They arrive idle for `idle_ms`, so the next XAUTOCLAIM of any worker takes them at once.
        With no heir they stay pending here for XAUTOCLAIM, and the consumer stays (deleting it
        would drop them). Atomic: nothing pending is ever deleted. Returns how many stay here.
        """
        left = await Script(self.client, _RETIRE)(
            keys=[self.keys.updates], args=[self.keys.group, self._name(), heir or "", idle_ms]
        )
        return int(left) == 0

    async def times_delivered(self, entry_id: str) -> int:
        """How often the group has handed this entry to a consumer."""
        rows = await self.client.xpending_range(
            self.keys.updates, self.keys.group, min=entry_id, max=entry_id, count=1
        )
        return int(rows[0]["times_delivered"]) if rows else 0

    async def low_water(self) -> str | None:
        """The oldest entry still being fanned out by any worker (None: none is). Every job
        queued from an older entry is final in its queue position."""
        async with self.client.pipeline(transaction=False) as pipe:
            self.low_water_in(pipe)
            return self.parse_low_water((await pipe.execute(raise_on_error=False))[0])

    def low_water_in(self, pipe: Any) -> None:
        """Queue `low_water`'s read on `pipe` (run with `raise_on_error=False`)."""
        pipe.xpending(self.keys.updates, self.keys.group)

    @staticmethod
    def parse_low_water(summary: Any) -> str | None:
        """`low_water` from XPENDING's answer, or the error it gave."""
        if isinstance(summary, Exception):  # e.g. a connection lost in a cluster failover
            if not (isinstance(summary, ResponseError) and is_nogroup(summary)):
                raise summary
            return None  # the stream was deleted (a flush): no entry is being fanned out
        low = summary.get("min") if summary else None
        return as_str(low) if low else None

    async def dead_letter(self, entry: Entry, reason: str) -> str:
        """Move `entry` to the dead-letter stream with `reason`, and acknowledge it."""
        async with self.client.pipeline(transaction=True) as pipe:
            # What the entry held, for the operator: its update, or else all its fields.
            payload = entry.fields.get("update") or (
                json.dumps(entry.fields) if entry.fields else ""
            )
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

    # bounds: what waits, and trimming what every group is done with ---------------------------

    async def _groups(self) -> tuple[int, list[dict[str, Any]]]:
        """The stream's length and its consumer groups (none before the first worker)."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xlen(self.keys.updates)
            pipe.xinfo_groups(self.keys.updates)
            length, groups = await pipe.execute(raise_on_error=False)
        if isinstance(length, Exception):
            raise length
        if isinstance(groups, ResponseError):  # no stream yet
            return int(length), []
        if isinstance(groups, Exception):
            raise groups
        return int(length), list(groups)

    async def backlog(self) -> int:
        """Accepted entries the slowest consumer group has not acknowledged yet.

        That is its lag (never delivered) plus its pending entries (being fanned out). With no
        group yet, every entry waits. Where Redis cannot tell the lag (an XDEL after the group's
        position), the stream's length is the bound.
        """
        length, groups = await self._groups()
        if not groups:
            return length
        waiting = [
            length if g.get("lag") is None else int(g["lag"]) + int(g["pending"]) for g in groups
        ]
        return max(waiting)

    async def trim(self, keep: int) -> int:
        """Once the stream holds more than `keep` entries, drop what every group acknowledged.

        Each group still needs its oldest pending entry and everything after its last delivered
        one; the stream is trimmed (XTRIM MINID ~) below the lowest of those, so an entry some
        group has not acknowledged is never lost. Returns how many entries went.
        """
        length, groups = await self._groups()
        if not groups or length <= keep:
            return 0
        floors = []
        for group in groups:
            floor = _id(group["last-delivered-id"])  # itself kept: one entry, for simplicity
            if int(group["pending"]):
                summary = await self.client.xpending(self.keys.updates, group["name"])
                if summary.get("min"):
                    floor = min(floor, _id(summary["min"]))
            floors.append(floor)
        ms, seq = min(floors)
        # Approximate: whole nodes only, all below the floor; cheap, and never above it.
        trimmed = int(await self.client.xtrim(self.keys.updates, minid=f"{ms}-{seq}",
                                              approximate=True))  # fmt: skip
        if trimmed:
            log.debug("trimmed %d acknowledged entries below %d-%d", trimmed, ms, seq)
        return trimmed

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

    async def lag_seconds(self) -> float:
        """Seconds the oldest entry not yet fanned out has waited (pending, or not yet read);
        0 before the group exists. `/readyz` bounds it (`api.ready_max_lag`)."""
        _, groups = await self._groups()
        group = next((g for g in groups if as_str(g["name"]) == self.keys.group), None)
        if group is None:
            return 0.0
        oldest = [low] if (low := await self.low_water()) else []
        after: Any = await self.client.xrange(
            self.keys.updates, f"({as_str(group['last-delivered-id'])}", "+", count=1
        )
        oldest += [as_str(entry_id) for entry_id, _ in after]
        if not oldest:
            return 0.0
        seconds, micros = await self.client.time()
        first_ms = min(_id(entry_id)[0] for entry_id in oldest)
        return max(0.0, round(seconds + micros / 1e6 - first_ms / 1000, 3))
