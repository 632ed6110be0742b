"""The update registry: the latest accepted revision of every update, one hash per update id."""

from __future__ import annotations

import functools
from typing import Any

import redis.asyncio as aioredis

from relay import model
from relay.keys import Keys, as_str
from relay.model import Update


@functools.lru_cache(maxsize=1024)
def _decode(raw: bytes | str) -> Update:
    # Every destination of an update reads the same bytes: decode them once per revision.
    return model.decode(raw)


class Registry:
    """Reads and writes `update:<id>` hashes: fields `json`, `revision` and `entry`.

    Ingest writes a revision together with its stream entry in one optimistic transaction:
    it calls `watch`, then, inside MULTI, `write_in` next to `Stream.append_in`.
    """

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    @staticmethod
    def parse(raw: bytes | str | None) -> Update | None:
        """The update a registry `json` field holds (None: no such update)."""
        return None if raw is None else _decode(raw)

    async def latest(self, update_id: str) -> Update | None:
        """The latest accepted revision of `update_id`, or None."""
        return self.parse(await self.client.hget(self.keys.update(update_id), "json"))

    def latest_in(self, pipe: Any, update_id: str) -> None:
        """Queue the read of `latest` on `pipe`; `parse` its result."""
        pipe.hget(self.keys.update(update_id), "json")

    async def watch(self, pipe: Any, update_id: str) -> Update | None:
        """WATCH the update on `pipe` (a transaction not yet in MULTI) and read its revision.

        The transaction then fails with WatchError if another writer changed the update first.
        """
        key = self.keys.update(update_id)
        await pipe.watch(key)
        return self.parse(await pipe.hget(key, "json"))

    def write_in(self, pipe: Any, update: Update, payload: str) -> None:
        """Queue, as one command, the write of `update` (encoded as `payload`) on `pipe`."""
        pipe.hset(self.keys.update(update.id), mapping={"json": payload,
                                                        "revision": update.revision})  # fmt: skip

    async def entry(self, update_id: str) -> str:
        """The stream entry id of the latest revision ("" before `set_entry`)."""
        raw = await self.client.hget(self.keys.update(update_id), "entry")
        return as_str(raw or b"")

    async def set_entry(self, update_id: str, entry_id: str) -> None:
        await self.client.hset(self.keys.update(update_id), "entry", entry_id)
