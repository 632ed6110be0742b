"""The delivery ledger: what each destination shows of an update, where it went, how far it got.

Per update: the copies ((update id, destination) → revision delivered, platform message ids and
the bot that sent them: a bot cannot edit another bot's message),
the targets (every destination it was queued for: its edits and deletes go there) and the
progress of its latest fan-out. Edits and deletes find every copy here, after restarts too.
An index of fan-outs that may be in flight (`progress_index`, the newest `INDEX_CAP`) lets
`relay status` list them; reading it drops the ones done or expired.
All three expire with the update (`dispatcher.ledger_ttl_days`, default 7 days); after that an
edit no longer reaches old copies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from relay.i18n import _
from relay.keys import Keys, as_str
from relay.model import Destination
from relay.scripts import Script


@dataclass(frozen=True)
class Copy:
    """One destination's copy of an update: the revision it shows and its message ids."""

    revision: int
    message_ids: tuple[str, ...]
    deleted: bool = False
    digest: bool = False  # delivered as one line of a digest: edits and deletes skip it
    partial: bool = False  # a send cut short: `message_ids` are its first parts
    lost: str = ""  # why edits can no longer reach it (the chat is gone, or moved): skip it
    bot: str = ""  # the platform's bot that sent it, and alone can change it ("": the first)


@dataclass(frozen=True)
class Progress:
    """How far the latest revision of an update got: queued for `total`, and the outcomes."""

    revision: int = 0
    total: int = 0
    delivered: int = 0
    failed: int = 0
    fanned_out: bool = False
    # (platform, delivered, failed, total), by name; total 0 until the fan-out is done
    platforms: tuple[tuple[str, int, int, int], ...] = ()

    @property
    def done(self) -> bool:
        return self.fanned_out and self.delivered + self.failed >= self.total

    def as_dict(self) -> dict[str, Any]:
        """The JSON of `GET /v1/updates/{id}` (schema `Progress` in relay/openapi.json)."""
        platforms = {name: {"delivered": ok, "failed": bad, "total": total}
                     for name, ok, bad, total in self.platforms}  # fmt: skip
        return {"revision": self.revision, "total": self.total, "delivered": self.delivered,
                "failed": self.failed, "done": self.done, "platforms": platforms}  # fmt: skip

    def summary(self) -> str:
        """One line for an editor, in the language of the moment (relay.i18n)."""
        text = (_("delivered {delivered} / {total} · {failed} failed (done)") if self.done else
                _("delivered {delivered} / {total} · {failed} failed (in progress)"))  # fmt: skip
        return text.format(delivered=f"{self.delivered:,}", total=f"{self.total:,}",
                           failed=f"{self.failed:,}")  # fmt: skip


def parse_copy(raw: bytes | str | None) -> Copy | None:
    """The copy a ledger value describes (None: no copy); `ValueError` if it does not decode."""
    return None if raw is None else _copy(raw)


INDEX_CAP = 1000  # fan-outs the index keeps (the newest); one more pushes the oldest out


async def read_progress(client: aioredis.Redis, keys: Keys, update_id: str) -> Progress | None:
    """How far the latest revision of `update_id` got (None: its fan-out has not begun)."""
    return _progress(await client.hgetall(keys.progress(update_id)))


async def in_flight(client: aioredis.Redis, keys: Keys) -> list[tuple[str, Progress]]:
    """The fan-outs not done yet, oldest first: (update id, progress). Those done or expired
    leave the index here, unless a new revision of theirs began meanwhile."""
    index: Any = await client.zrange(keys.progress_index, 0, -1, withscores=True)
    async with client.pipeline(transaction=False) as pipe:
        for member, _ in index:
            pipe.hgetall(keys.progress(as_str(member)))
        raws = await pipe.execute()
    found, gone = [], []
    for (member, score), raw in zip(index, raws, strict=True):
        progress = _progress(raw)
        if progress is None or progress.done:
            gone.append((member, score))
        else:
            found.append((as_str(member), progress))
    if gone:
        unindex = Script(client, _UNINDEX)
        async with client.pipeline(transaction=False) as pipe:
            for member, score in gone:
                await unindex(keys=[keys.progress_index], args=[member, int(score)], client=pipe)
            await pipe.execute()
    return found


def _progress(raw: dict[Any, Any]) -> Progress | None:
    if not raw:
        return None
    f = {as_str(k): int(v) for k, v in raw.items()}
    names = sorted({k.partition(":")[2] for k in f if ":" in k})
    platforms = tuple(
        (p, f.get(f"delivered:{p}", 0), f.get(f"failed:{p}", 0), f.get(f"total:{p}", 0))
        for p in names
    )
    return Progress(f.get("revision", 0), f.get("total", 0), f.get("delivered", 0),
                    f.get("failed", 0), bool(f.get("fanned_out", 0)), platforms)  # fmt: skip


# KEYS: progress hash, the destinations it counted. ARGV: revision, field, platform,
# destination. Counts an outcome (in all and in `field:platform`) only for the current revision,
# and once per destination: a job served again (its queue entry merged into by the next
# revision between the read of the head and the read of the update) finds its copy up to date,
# and must not count it twice, or the fan-out would say "done" before it is. Once the fan-out
# is done, nothing more is counted and the set goes (it is as large as the targets).
_COUNT = """
local f = redis.call('HMGET', KEYS[1], 'revision', 'fanned_out', 'total', 'delivered', 'failed')
if f[1] ~= ARGV[1] then return 0 end
local total, counted = tonumber(f[3]) or 0, (tonumber(f[4]) or 0) + (tonumber(f[5]) or 0)
if f[2] == '1' and counted >= total then return 0 end
if redis.call('SADD', KEYS[2], ARGV[4]) == 0 then return 0 end
if counted == 0 then  -- the set's first member: it expires with the progress
  redis.call('EXPIRE', KEYS[2], math.max(redis.call('TTL', KEYS[1]), 1))
end
if ARGV[3] ~= '' then redis.call('HINCRBY', KEYS[1], ARGV[2] .. ':' .. ARGV[3], 1) end
local n = redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
if f[2] == '1' and counted + 1 >= total then redis.call('DEL', KEYS[2]) end
return n
"""

# KEYS: targets set, its per-platform counts. ARGV: ttl, destinations. Adds the destinations
# and counts each new one under its platform (the text before its first ':'): a batch added
# again (a fan-out resumed after a crash) or a destination met twice (SSCAN may repeat one)
# counts once.
_ADD_TARGETS = """
for i = 2, #ARGV do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('HINCRBY', KEYS[2], string.match(ARGV[i], '^[^:]*'), 1)
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
"""

# KEYS: progress hash, targets set, its per-platform counts, the destinations counted. Marks the
# fan-out done with the number of targets in all and per platform (`total:platform`); when every
# outcome is counted already, the counted set goes.
_FANNED_OUT = """
local fields = {'fanned_out', 1, 'total', redis.call('SCARD', KEYS[2])}
local counts = redis.call('HGETALL', KEYS[3])
for i = 1, #counts, 2 do
  fields[#fields + 1] = 'total:' .. counts[i]
  fields[#fields + 1] = counts[i + 1]
end
redis.call('HSET', KEYS[1], unpack(fields))
local f = redis.call('HMGET', KEYS[1], 'delivered', 'failed')
if (tonumber(f[1]) or 0) + (tonumber(f[2]) or 0) >= fields[4] then redis.call('DEL', KEYS[4]) end
return fields[4]
"""

# KEYS[1]: the progress index. ARGV: update id, its score when read: unindex it unless a new
# fan-out of it began since (a new score).
_UNINDEX = """
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1])) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""


class ProgressBook:
    """Writes fan-out progress: one hash per update, reset for each new revision."""

    def __init__(self, client: aioredis.Redis, keys: Keys, ttl_seconds: int) -> None:
        self.client = client
        self.keys = keys
        self.ttl_seconds = ttl_seconds
        self._count = Script(client, _COUNT)
        self._fanned_out = Script(client, _FANNED_OUT)

    async def start(self, update_id: str, revision: int) -> None:
        key = self.keys.progress(update_id)
        current = await self.client.hget(key, "revision")
        if current is None or int(current) != revision:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(key, self.keys.progress_counted(update_id))
                pipe.hset(key, mapping={"revision": revision, "total": 0, "delivered": 0,
                                        "failed": 0, "fanned_out": 0})  # fmt: skip
                pipe.expire(key, self.ttl_seconds)
                await pipe.execute()
            # Not in that transaction: on a Cluster the index lives in another slot.
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zadd(self.keys.progress_index, {update_id: int(time.time() * 1000)})
                pipe.zremrangebyrank(self.keys.progress_index, 0, -INDEX_CAP - 1)
                await pipe.execute()

    async def fanned_out(self, update_id: str) -> int:
        """Mark the fan-out done with its totals (in all and per platform); return the total."""
        keys = [
            self.keys.progress(update_id),
            self.keys.targets(update_id),
            self.keys.target_counts(update_id),
            self.keys.progress_counted(update_id),
        ]
        return int(await self._fanned_out(keys=keys))

    async def count(
        self, update_id: str, revision: int, dest: Destination, ok: bool, client: Any = None
    ) -> None:
        """Count `dest`'s outcome, also under its platform, once per revision (`client`: a
        pipeline to join)."""
        field = "delivered" if ok else "failed"
        keys = [self.keys.progress(update_id), self.keys.progress_counted(update_id)]
        args = [revision, field, dest.platform, str(dest)]
        await self._count(keys=keys, args=args, client=client)


class Ledger:
    """Copies and targets of updates: a hash and a set per update, expiring after `ttl_seconds`."""

    def __init__(self, client: aioredis.Redis, keys: Keys, ttl_seconds: int) -> None:
        self.client = client
        self.keys = keys
        self.ttl_seconds = ttl_seconds
        self._add_targets = Script(client, _ADD_TARGETS)

    # copies ----------------------------------------------------------------------------------

    async def get(self, update_id: str, dest: Destination) -> Copy | None:
        return parse_copy(await self.client.hget(self.keys.ledger(update_id), str(dest)))

    def get_in(self, pipe: Any, update_id: str, dest: Destination) -> None:
        """Queue `get` on `pipe` (to share a round trip); `parse_copy` its result."""
        pipe.hget(self.keys.ledger(update_id), str(dest))

    async def record(self, update_id: str, dest: Destination, copy: Copy) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            self.record_in(pipe, update_id, dest, copy)
            await pipe.execute()

    def record_in(self, pipe: Any, update_id: str, dest: Destination, copy: Copy) -> None:
        """Queue the ledger write on `pipe` (to share a round trip with other writes)."""
        key = self.keys.ledger(update_id)
        fields: dict[str, object] = {"rev": copy.revision, "ids": list(copy.message_ids),
                  "deleted": copy.deleted, "digest": copy.digest}  # fmt: skip
        if copy.partial:
            fields["partial"] = True
        if copy.lost:
            fields["lost"] = copy.lost
        if copy.bot:
            fields["bot"] = copy.bot
        value = json.dumps(fields)
        pipe.hset(key, str(dest), value)
        pipe.expire(key, self.ttl_seconds)

    async def copies(self, update_id: str) -> dict[Destination, Copy]:
        raw = await self.client.hgetall(self.keys.ledger(update_id))
        out = {}
        for k, v in raw.items():
            out[Destination.parse(as_str(k))] = _copy(v)
        return out

    # targets ---------------------------------------------------------------------------------

    async def add_targets(self, update_id: str, dests: Iterable[Destination]) -> None:
        """Remember that `update_id` was queued for `dests` (its edits and deletes follow)."""
        members = [str(d) for d in dests]
        if members:
            keys = [self.keys.targets(update_id), self.keys.target_counts(update_id)]
            await self._add_targets(keys=keys, args=[self.ttl_seconds, *members])

    def add_targets_in(self, pipe: Any, update_id: str, dests: Iterable[Destination]) -> list[str]:
        """Queue `add_targets` on `pipe`; returns the key it writes."""
        key = self.keys.targets(update_id)
        pipe.sadd(key, *[str(d) for d in dests])
        pipe.expire(key, self.ttl_seconds)
        return [key]

    async def scan_targets(
        self, update_id: str, cursor: int, count: int
    ) -> tuple[int, list[Destination]]:
        """One SSCAN step over the targets: (next cursor, 0 when done; a batch of them)."""
        cursor, members = await self.client.sscan(
            self.keys.targets(update_id), cursor=cursor, count=count
        )
        return cursor, [Destination.parse(as_str(m)) for m in members]

    async def move_target(self, update_id: str, old: Destination, new: Destination) -> None:
        """Re-key one target (a Telegram group that became a supergroup)."""
        key = self.keys.targets(update_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.srem(key, str(old))
            pipe.sadd(key, str(new))
            await pipe.execute()


def _copy(raw: bytes | str) -> Copy:
    """A ledger value as a `Copy`; `ValueError` for anything else (written around the relay)."""
    try:
        data = json.loads(raw)
        return Copy(int(data["rev"]), tuple(str(i) for i in data["ids"]),
                    bool(data.get("deleted")), bool(data.get("digest")),
                    bool(data.get("partial")), str(data.get("lost") or ""),
                    str(data.get("bot") or ""))  # fmt: skip
    except (ValueError, TypeError, LookupError, AttributeError, RecursionError) as exc:
        raise ValueError(f"a ledger copy cannot be read: {type(exc).__name__}: {exc}") from None
