"""Updates scheduled to go out later (`publish_at`): kept aside until their time, editable and
cancellable until then, then published through `Ingest` by the first worker whose scheduler
sees them due.

A scheduled update is no update yet: it has no revision, no stream entry and no copy. Its
payload waits in a hash and its time in a sorted set (`scheduled`, `scheduled_updates`). When
it is due, one script moves it to `firing`, so a cancel that comes later finds nothing to cancel
(the update is going out: delete it then). The worker publishes it and drops it from `firing`.
A worker that dies in between leaves it there; after `STUCK` seconds any scheduler publishes it
again, which ingest takes as a retry of an identical publish: it goes out once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from relay import model
from relay.changes import Changes
from relay.dead_letters import DeadLetters
from relay.errors import InvalidUpdate, UnknownUpdate
from relay.ingest import Ingest
from relay.keys import Keys, as_str
from relay.model import Action, Update
from relay.scripts import Script
from relay.stream import UNREACHABLE

log = logging.getLogger(__name__)
MAX_AHEAD = timedelta(days=30)  # further than this is a typo more often than a plan
TICK = 1.0  # seconds between two looks for updates due
STUCK = 30.0  # seconds after which an update claimed and not published is published again
BATCH = 50  # updates claimed per look

# KEYS: scheduled, scheduled_updates. ARGV: id, due ms, payload, mode ("new" or "replace").
_PUT = """
local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (ARGV[4] == 'new') == (known ~= false) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
"""

# KEYS: scheduled, scheduled_updates. ARGV: id.
_CANCEL = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""

# KEYS: scheduled, scheduled_updates, firing. ARGV: now ms, count, stuck ms. The due ones move
# to firing (claimed now); they are returned with those claimed over `stuck` ago (claimed anew).
_CLAIM = """
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])) do
  local payload = redis.call('HGET', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  if payload then
    redis.call('HSET', KEYS[3], id, ARGV[1] .. ' ' .. payload)
    out[#out + 1] = payload
  end
end
local firing = redis.call('HGETALL', KEYS[3])
for i = 1, #firing, 2 do
  local at, payload = string.match(firing[i + 1], '^(%d+) (.*)$')
  if tonumber(at) < tonumber(ARGV[1]) - tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[3], firing[i], ARGV[1] .. ' ' .. payload)
    out[#out + 1] = payload
  end
end
return out
"""


@dataclass(frozen=True)
class Scheduled:
    """An update waiting for its time."""

    update: Update
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"update": model.to_dict(self.update), "publish_at": self.at.isoformat()}


def parse_time(raw: Any, now: datetime | None = None) -> datetime:
    """`publish_at`: an ISO 8601 date-time with its time zone, later than now and within
    `MAX_AHEAD`; `InvalidUpdate` naming the field otherwise."""
    if not isinstance(raw, str):
        raise InvalidUpdate("publish_at", "must be an ISO 8601 date-time string")
    try:
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidUpdate("publish_at", f"must be an ISO 8601 date-time, got {raw!r}") from None
    if at.tzinfo is None:
        raise InvalidUpdate("publish_at", "must carry a time zone, e.g. 2026-12-24T18:00+02:00")
    now = now or datetime.now(UTC)
    if at <= now:
        raise InvalidUpdate("publish_at", "must be in the future (publish it now instead)")
    if at > now + MAX_AHEAD:
        raise InvalidUpdate("publish_at", f"must be within {MAX_AHEAD.days} days")
    return at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000)  # as stored


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class Schedule:
    """The updates waiting for their time, shared by every worker through Redis."""

    def __init__(self, client: aioredis.Redis, keys: Keys, ingest: Ingest) -> None:
        self.client = client
        self.keys = keys
        self.ingest = ingest
        self.dead_letters = DeadLetters(client, keys)
        self._keys = [keys.scheduled, keys.scheduled_updates]
        self._put = Script(client, _PUT)
        self._cancel = Script(client, _CANCEL)
        self._claim = Script(client, _CLAIM)

    async def add(self, update: Update, at: datetime) -> Scheduled:
        """Schedule a new update for `at` (checked as a publish is, and its id unused)."""
        self.ingest.check_topic(update.topic)
        update = model.validate(replace(update, action=Action.PUBLISH, revision=1,
                                        published_at=at))  # fmt: skip
        if await self.ingest.latest(update.id) is not None:
            raise InvalidUpdate("id", f"update {update.id!r} already exists; edit it instead")
        await self.ingest.photos.hold(update.image, at.timestamp())  # kept past its time
        args = [update.id, _ms(at), model.encode(update), "new"]
        if not await self._put(keys=self._keys, args=args):
            raise InvalidUpdate("id", f"update {update.id!r} already exists (scheduled); edit it")
        log.info("scheduled update=%s at=%s", update.id, at.isoformat(),
                 extra={"update": update.id})  # fmt: skip
        return Scheduled(update, at)

    async def get(self, update_id: str) -> Scheduled | None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zscore(self.keys.scheduled, update_id)
            pipe.hget(self.keys.scheduled_updates, update_id)
            score, payload = await pipe.execute()
        if score is None or payload is None:
            return None
        return Scheduled(model.decode(payload), datetime.fromtimestamp(score / 1000, UTC))

    async def change(
        self, update_id: str, changes: Changes | None, at: datetime | None
    ) -> Scheduled:
        """Edit a scheduled update's content and/or time; `UnknownUpdate` if none waits."""
        held = await self.get(update_id)
        if held is None:
            raise UnknownUpdate(update_id)
        at = at or held.at
        update = changes.apply(held.update) if changes else held.update
        update = replace(update, action=Action.PUBLISH, revision=1, published_at=at)
        await self.ingest.photos.hold(update.image, at.timestamp())
        args = [update_id, _ms(at), model.encode(update), "replace"]
        if not await self._put(keys=self._keys, args=args):  # it went out meanwhile
            raise UnknownUpdate(update_id)
        return Scheduled(update, at)

    async def cancel(self, update_id: str) -> bool:
        """Take a scheduled update back; False if none waits (never scheduled, or going out)."""
        cancelled = bool(await self._cancel(keys=self._keys, args=[update_id]))
        if cancelled:
            log.info("cancelled scheduled update=%s", update_id, extra={"update": update_id})
        return cancelled

    async def pending(self, limit: int = 100) -> list[Scheduled]:
        """The updates waiting, soonest first."""
        found: Sequence[Any] = await self.client.zrange(
            self.keys.scheduled, 0, limit - 1, withscores=True
        )
        held = [await self.get(as_str(member)) for member, _ in found]
        return [s for s in held if s is not None]

    async def count(self) -> int:
        return int(await self.client.zcard(self.keys.scheduled))

    async def fire(self, now: float | None = None) -> int:
        """Publish what is due (and what a dead worker left claimed); how many went."""
        now_ms = int((time.time() if now is None else now) * 1000)
        keys = [*self._keys, self.keys.firing]
        payloads = await self._claim(keys=keys, args=[now_ms, BATCH, int(STUCK * 1000)])
        for payload in payloads:
            update = model.decode(payload)
            try:
                await self.ingest.publish(update)
            except InvalidUpdate as exc:  # its topic left the config, say: a dead letter,
                reason = f"scheduled update not published: {exc}"  # to retry once fixed
                async with self.client.pipeline(transaction=False) as pipe:
                    self.dead_letters.add_in(pipe, update.id, model.encode(update), reason)
                    pipe.hdel(self.keys.firing, update.id)
                    await pipe.execute()
                log.warning("dead letter update=%s reason=%s", update.id, reason,
                            extra={"update": update.id})  # fmt: skip
                continue
            await self.client.hdel(self.keys.firing, update.id)
        return len(payloads)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish scheduled updates as they fall due, until `stop` (a part of `relay run`)."""
        while not stop.is_set():
            try:
                await self.fire()
            except UNREACHABLE as exc:
                log.warning("schedule: Redis unreachable (%s); next look in %gs", exc, TICK)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK)


async def command(relay: Any, args: Any) -> int:
    """`relay scheduled`: the updates waiting, soonest first, one line each."""
    for h in await relay.schedule.pending():
        sys.stdout.write(f"{h.update.id}  {h.at.isoformat()}  {h.update.topic} · "
                         f"{h.update.headline}\n")  # fmt: skip
    return 0
