"""Ingest: validate an editor's update, assign its revision and append it to the stream.

Every entry path (chat commands, `relay post`, `POST /v1/updates`) goes through `Ingest`, so
the same rules hold everywhere: the topic must be configured, an edit or delete must name an
update the relay accepted, and the revision grows by one per change. The registry write and
the `XADD` happen in one optimistic transaction, so concurrent edits cannot share a revision.

Ingest refuses (`Overloaded`) rather than accept while more than `redis.max_backlog` entries
wait to be fanned out: the stream is never trimmed below an unacknowledged entry, so what it
accepts is never lost, and the refusal is what keeps memory bounded under a flood.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from relay import model, redis_version
from relay.changes import UNSET, Changes
from relay.config import Config
from relay.errors import InvalidUpdate, Overloaded, UnknownUpdate
from relay.i18n import N_
from relay.keys import Keys, as_str
from relay.media import Photos
from relay.metrics import UPDATES
from relay.model import Action, Image, Update
from relay.registry import Registry
from relay.replication import Replication
from relay.stream import Stream

log = logging.getLogger(__name__)
# What an overloaded ingest tells callers to wait. The backlog drains at the fan-out's pace
# (thousands of entries a second), so a short wait is enough, and a retry is cheap to refuse.
RETRY_AFTER = 1.0
WAITAOF_MS = 5000  # how long an accepted update waits for its fsync before it is answered


def _content(update: Update) -> dict[str, Any]:
    data = model.to_dict(update)
    for key in ("revision", "action", "published_at"):
        data.pop(key)
    return data


@dataclass(frozen=True)
class Accepted:
    """What ingest accepted: the update at its new revision and its stream entry id."""

    update: Update
    entry_id: str
    duplicate: bool = False


class Ingest:
    """Validates updates against the configured topics and appends them to the stream."""

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        topics: Iterable[str],
        max_backlog: int,
        ttl_seconds: int | None = None,
    ) -> None:
        self.client = client
        self.keys = keys
        self.topics = frozenset(topics)
        self.max_backlog = max_backlog
        self.registry = Registry(client, keys, ttl_seconds)
        self.photos = Photos(client, keys, ttl_seconds)  # a stored photo lives with its update
        self.stream = Stream(client, keys)
        self._waitaof: bool | None = None  # AOF on and WAITAOF known (Redis 7.2+)?
        self.waitaof_ms = WAITAOF_MS
        self.replication = Replication(client)
        self._refusing = False  # log an overload once when it starts and once when it ends

    @classmethod
    def from_config(cls, client: aioredis.Redis, config: Config) -> Ingest:
        """Ingest with the config's topics, backlog bound and stored-update lifetime."""
        return cls(
            client,
            Keys(config.redis.key_prefix, config.redis.shards),
            config.topic_slugs,
            config.redis.max_backlog,
            int(config.dispatcher.ledger_ttl_days * 86400),
        )

    async def _admit(self) -> None:
        """Raise `Overloaded` while the fan-out backlog is at its bound."""
        backlog = await self.stream.backlog()
        if backlog < self.max_backlog:
            if self._refusing:
                log.warning("accepting updates again backlog=%d", backlog)
                self._refusing = False
            return
        if not self._refusing:
            log.warning("overloaded, refusing updates backlog=%d limit=%d",
                        backlog, self.max_backlog)  # fmt: skip
            self._refusing = True
        raise Overloaded(RETRY_AFTER, backlog, self.max_backlog)

    def _node(self) -> Any:
        """The node of a cluster that holds the stream (None on a single server)."""
        if not self.replication.cluster:
            return None
        return self.client.get_node_from_key(self.registry.where)  # type: ignore[attr-defined]

    async def _record_durably(self, update_id: str, entry_id: str) -> None:
        """Record the entry id, then wait for `WAITAOF` (the write is fsynced to the AOF) and,
        on a cluster, `WAIT` (a replica has it), so that what the editor is told was accepted
        survives an operating-system crash and a master's failover (relay.replication).

        Both cover only the writes made on their own connection: they go in the same pipeline
        as this last write, which comes after the transaction's in the AOF, so an fsync that
        covers it covers the update too. (Sent alone, `WAITAOF` could take a pooled connection
        that wrote nothing, and answer at once.) `WAITAOF` exists from Redis/Valkey 7.2; on
        older servers the guarantee is what their fsync policy gives (relay/redis_version.py).
        """
        if self._waitaof is None:
            server = await redis_version.probe(self.client, self._node())
            self._waitaof = server.guarantee is redis_version.Guarantee.WAITAOF
        node = self._node()
        async with self.client.pipeline(transaction=False) as pipe:
            self.registry.set_entry_in(pipe, update_id, entry_id)
            if self._waitaof:
                where = {} if node is None else {"target_nodes": node}
                pipe.execute_command("WAITAOF", 1, 0, self.waitaof_ms, **where)
            nodes = self.replication.wait_in(pipe, [self.registry.where])
            replies = await pipe.execute()
        if self._waitaof and not _fsynced(replies[1]):
            log.warning("update=%s accepted but its AOF fsync was not confirmed within %d ms",
                        update_id, self.waitaof_ms, extra={"update": update_id})  # fmt: skip
        self.replication.check(nodes, replies)

    def check_topic(self, topic: str) -> None:
        if topic not in self.topics:
            known = ", ".join(sorted(self.topics))
            raise InvalidUpdate("topic", N_("unknown topic {topic!r} (configured: {known})"),
                                topic=topic, known=known)  # fmt: skip

    async def latest(self, update_id: str) -> Update | None:
        """The latest accepted revision of `update_id`, or None."""
        return await self.registry.latest(update_id)

    async def publish(self, update: Update) -> Accepted:
        """Accept a new update. Re-posting identical content under the same id is a no-op."""
        self.check_topic(update.topic)
        update = model.validate(replace(update, action=Action.PUBLISH, revision=1))
        await self.photos.hold(update.image)
        return await self._commit(update.id, lambda prev: self._new(update, prev))

    async def edit(self, update_id: str, changes: Changes) -> Accepted:
        """Accept a new revision of `update_id` with `changes` applied to the latest one."""
        if not changes:
            raise InvalidUpdate("changes", N_("nothing to change"))
        if isinstance(changes.image, Image):
            await self.photos.hold(changes.image)
        elif changes.image is UNSET and (prev := await self.latest(update_id)) is not None:
            # The copies live on after this revision, and a Discord edit uploads the photo again
            await self.photos.hold(prev.image, given=False)
        return await self._commit(
            update_id, lambda prev: changes.apply(self._existing(update_id, prev))
        )

    async def delete(self, update_id: str) -> Accepted:
        """Accept the withdrawal of `update_id` from every copy."""

        def build(prev: Update | None) -> Update:
            prev = self._existing(update_id, prev)
            return replace(prev, action=Action.DELETE, revision=prev.revision + 1)

        return await self._commit(update_id, build)

    def _existing(self, update_id: str, prev: Update | None) -> Update:
        if prev is None:
            raise UnknownUpdate(update_id)
        if prev.action is Action.DELETE:
            raise InvalidUpdate("id", N_("update {id!r} was deleted"), id=update_id)
        return prev

    def _new(self, update: Update, prev: Update | None) -> Update | None:
        if prev is None:
            return update
        if prev.action is not Action.DELETE and _content(prev) == _content(
            replace(update, published_at=prev.published_at)
        ):
            return None  # an identical retry (a CMS resending after a timeout)
        raise InvalidUpdate("id", N_("update {id!r} already exists; edit it instead"),
                            id=update.id)  # fmt: skip

    async def _commit(self, update_id: str, build: Any) -> Accepted:
        async with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    prev = await self.registry.watch(pipe, update_id)
                    update = build(prev)
                    if update is None:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        assert prev is not None
                        return Accepted(prev, await self.registry.entry(update_id), True)
                    # Checked once the request is known valid: bad input gets its own answer.
                    await self._admit()
                    payload = model.encode(update)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    self.registry.write_in(pipe, update, payload)
                    self.stream.append_in(pipe, payload)  # last: result[-1]
                    result = await pipe.execute()
                    break
                except WatchError:
                    continue
        entry_id = as_str(result[-1])
        await self._record_durably(update_id, entry_id)
        UPDATES.labels(update.action.value).inc()
        log.info(
            "accepted update=%s rev=%d action=%s entry=%s",
            update.id, update.revision, update.action.value, entry_id,
        )  # fmt: skip
        return Accepted(update, entry_id)


def _fsynced(reply: Any) -> bool:
    """Whether `WAITAOF`'s reply ([local, replicas]) says the local AOF has the write."""
    return isinstance(reply, list | tuple) and bool(reply) and int(reply[0]) >= 1
