"""The update registry: the latest accepted revision of every update, one hash per update id."""

from __future__ import annotations

import functools
import time
from typing import Any

import redis.asyncio as aioredis

from relay import model
from relay.errors import InvalidUpdate
from relay.keys import Keys, as_str
from relay.model import Update

RECENT = 50  # publishes listed in `recent_updates`, newest first


def decode(raw: bytes | str) -> Update:
    """An update from bytes the relay stored (registry, stream); `InvalidUpdate` if unreadable.

    Those bytes may predate a schema change or have been written around the relay. Decoding is
    deterministic: what fails once fails forever, so every failure (JSON nested too deep for the
    parser included) is an `InvalidUpdate` the caller dead-letters, never a crash that comes
    back on every retry.
    """
    try:
        return model.decode(raw)
    except InvalidUpdate:
        raise
    except RecursionError:
        raise InvalidUpdate("update", "not valid JSON: nested too deeply") from None
    except Exception as exc:
        raise InvalidUpdate("update", f"cannot be read: {type(exc).__name__}: {exc}") from None


def list_in(pipe: Any, key: str, update_id: str, cap: int) -> None:
    """Queue, on `pipe`, the listing of `update_id` in the sorted set `key`, scored by when it
    was first listed (µs: two in one millisecond keep their order); the newest `cap` stay."""
    pipe.zadd(key, {update_id: int(time.time() * 1_000_000)}, nx=True)
    pipe.zremrangebyrank(key, 0, -cap - 1)


async def newest(client: aioredis.Redis, key: str, count: int) -> list[tuple[str, float]]:
    """The newest `count` update ids a `list_in` set holds, with their times, newest first."""
    found: Any = await client.zrevrange(key, 0, count - 1, withscores=True)
    return [(as_str(update_id), float(at)) for update_id, at in found]


@functools.lru_cache(maxsize=1024)
def _decode(raw: bytes | str) -> Update:
    # Every destination of an update reads the same bytes: decode them once per revision.
    return decode(raw)


class Registry:
    """Reads and writes `update:<id>` hashes: fields `json`, `revision` and `entry`.

    Ingest writes a revision together with its stream entry in one optimistic transaction:
    it calls `watch`, then, inside MULTI, `write_in` next to `Stream.append_in`. A hash expires
    `ttl_seconds` after its last revision (with the ledger: `dispatcher.ledger_ttl_days`), so
    stored updates do not grow without bound; None keeps them.
    """

    def __init__(self, client: aioredis.Redis, keys: Keys, ttl_seconds: int | None = None) -> None:
        self.client = client
        self.keys = keys
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def parse(raw: bytes | str | None) -> Update | None:
        """The update a registry `json` field holds (None: no such update).

        Raises `InvalidUpdate` when the stored bytes no longer decode.
        """
        return None if raw is None else _decode(raw)

    def _parse(self, update_id: str, raw: bytes | str | None) -> Update | None:
        try:
            return self.parse(raw)
        except InvalidUpdate as exc:
            raise InvalidUpdate(
                "id", f"the stored update {update_id!r} cannot be read ({exc})"
            ) from None

    async def latest(self, update_id: str) -> Update | None:
        """The latest accepted revision of `update_id`, or None."""
        return self._parse(update_id, await self.client.hget(self.keys.update(update_id), "json"))

    def latest_in(self, pipe: Any, update_id: str) -> None:
        """Queue the read of `latest` on `pipe`; `parse` its result."""
        pipe.hget(self.keys.update(update_id), "json")

    async def watch(self, pipe: Any, update_id: str) -> Update | None:
        """WATCH the update on `pipe` (a transaction not yet in MULTI) and read its revision.

        The transaction then fails with WatchError if another writer changed the update first.
        """
        key = self.keys.update(update_id)
        await pipe.watch(key)
        return self._parse(update_id, await pipe.hget(key, "json"))

    def write_in(self, pipe: Any, update: Update, payload: str) -> None:
        """Queue the write of `update` (encoded as `payload`) and its expiry on `pipe`."""
        key = self.keys.update(update.id)
        pipe.hset(key, mapping={"json": payload, "revision": update.revision})
        if self.ttl_seconds is not None:
            pipe.expire(key, self.ttl_seconds)
        if update.revision == 1:  # a publish, from any source: listed among the recent ones
            list_in(pipe, self.keys.recent_updates, update.id, RECENT)

    async def recent(self) -> list[tuple[str, float]]:
        """The newest publishes (their ids, and when they were accepted in µs), newest first;
        some may have expired from the registry since."""
        return await newest(self.client, self.keys.recent_updates, RECENT)

    async def entry(self, update_id: str) -> str:
        """The stream entry id of the latest revision ("" before `set_entry`)."""
        raw = await self.client.hget(self.keys.update(update_id), "entry")
        return as_str(raw or b"")

    @property
    def where(self) -> str:
        """A key in the slot of the registry and the stream (`{u}`), only to find the node of
        a cluster that holds them (for `WAIT`)."""
        return self.keys.update("")

    def set_entry_in(self, pipe: Any, update_id: str, entry_id: str) -> None:
        """Queue `set_entry` on `pipe`."""
        pipe.hset(self.keys.update(update_id), "entry", entry_id)
