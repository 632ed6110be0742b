"""Operator views and actions: `relay status` and `relay dead-letters list|retry`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from relay import model
from relay.config import Config
from relay.errors import InvalidUpdate
from relay.keys import Keys, as_str
from relay.model import Destination
from relay.queues import Queues, position
from relay.stream import DeadLetter, list_dead_letters

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumer:
    name: str
    pending: int
    idle_seconds: float


@dataclass(frozen=True)
class Status:
    """What an operator wants to see at a glance."""

    stream_length: int
    pending_entries: int
    consumers: tuple[Consumer, ...]
    subscribers: dict[str, int]
    destinations: int
    destinations_with_work: int
    dead_letters: int
    recent_dead: tuple[DeadLetter, ...]

    def render(self) -> str:
        lines = [
            f"updates stream: {self.stream_length:,} entries, {self.pending_entries:,} being "
            "fanned out",
            f"workers: {len(self.consumers)}",
        ]
        for c in self.consumers:
            lines.append(f"  {c.name}: {c.pending} pending, idle {c.idle_seconds:.1f}s")
        lines.append(f"destinations: {self.destinations:,} subscribed, "
                     f"{self.destinations_with_work:,} with deliveries waiting")  # fmt: skip
        for slug, count in self.subscribers.items():
            lines.append(f"  {slug}: {count:,} subscribers")
        lines.append(f"dead letters: {self.dead_letters:,}")
        for d in self.recent_dead:
            where = d.destination or "(stream entry)"
            lines.append(f"  {d.id}  {where}  update={d.source_id}  {d.reason}")
        return "\n".join(lines)


async def status(client: aioredis.Redis, config: Config, recent: int = 10) -> Status:
    keys = Keys(config.redis.key_prefix)
    try:
        raw: Any = await client.xinfo_consumers(keys.updates, keys.group)
    except ResponseError:  # no stream or no group yet
        raw = []
    consumers = tuple(
        Consumer(as_str(c["name"]), int(c["pending"]), int(c["idle"]) / 1000) for c in raw
    )
    summary: Any = await client.xpending(keys.updates, keys.group) if raw else {"pending": 0}
    subscribers = {t.slug: int(await client.scard(keys.topic_subscribers(t.slug)))
                   for t in config.topics}  # fmt: skip
    return Status(
        stream_length=int(await client.xlen(keys.updates)),
        pending_entries=int(summary["pending"]),
        consumers=consumers,
        subscribers=subscribers,
        destinations=int(await client.scard(keys.destinations)),
        destinations_with_work=int(await client.zcard(keys.ready)),
        dead_letters=int(await client.xlen(keys.dead_letters)),
        recent_dead=tuple(await list_dead_letters(client, keys, recent)),
    )


async def retry_dead_letters(
    client: aioredis.Redis, config: Config, ids: Sequence[str] | None
) -> list[tuple[str, str]]:
    """Send dead letters through again (all when `ids` is None); return (id, outcome) pairs.

    A failed delivery is queued again for its destination; an entry that never fanned out goes
    back into the updates stream. Each retried letter leaves the dead-letter stream.
    """
    keys = Keys(config.redis.key_prefix)
    queues = Queues(client, keys)
    letters = await list_dead_letters(client, keys, count=100_000)
    wanted = {d.id: d for d in letters}
    selected = list(reversed(letters)) if ids is None else [wanted[i] for i in ids if i in wanted]
    results = [(i, "no such dead letter") for i in (ids or []) if i not in wanted]
    for letter in selected:
        try:
            update = model.decode(letter.payload) if letter.payload else None
        except InvalidUpdate as exc:
            results.append((letter.id, f"kept: its payload is invalid ({exc})"))
            continue
        if update is None:
            results.append((letter.id, "kept: it carries no update"))
            continue
        if letter.destination:
            dest = Destination.parse(letter.destination)
            await client.sadd(keys.targets(update.id), str(dest))
            await queues.enqueue([dest], update.id, f"retry-{letter.id}", at=position(letter.id))
            outcome = f"queued again for {dest}"
        else:
            await client.xadd(keys.updates, {"update": letter.payload})
            outcome = "back in the updates stream"
        await client.xdel(keys.dead_letters, letter.id)
        log.info("dead letter retried id=%s outcome=%s", letter.id, outcome)
        results.append((letter.id, outcome))
    return results
