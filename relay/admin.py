"""Operator views and actions: `relay status` and `relay dead-letters list|retry`.

`relay status` lists the fan-outs in flight (from the ledger's index of them) with the same
progress bar as `relay progress ID`, the first `SHOWN` of them with their topic and headline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import redis.asyncio as aioredis

from relay import feeds, model
from relay.config import Config
from relay.dead_letters import DeadLetter, DeadLetters
from relay.errors import InvalidUpdate
from relay.ingest import Ingest
from relay.keys import Keys
from relay.ledger import Ledger, Progress, in_flight
from relay.model import Action, Destination
from relay.progress import bar
from relay.queues import Queues, position
from relay.registry import Registry
from relay.schedule import Schedule, Scheduled
from relay.stream import Consumer, Stream
from relay.subscriptions import Subscriptions
from relay.workers import Worker, Workers

log = logging.getLogger(__name__)

SHOWN = 20  # fan-outs in flight shown with their bars (the count covers all of them)


@dataclass(frozen=True)
class Status:
    """What an operator wants to see at a glance."""

    stream_length: int
    pending_entries: int
    consumers: tuple[Consumer, ...]  # every member of the group, live or not
    workers: tuple[Worker, ...]  # the live ones (a heartbeat within `workers.TTL`)
    lag: int  # entries accepted and not yet fanned out
    subscribers: dict[str, int]
    destinations: int
    destinations_with_work: int
    dead_letters: int
    recent_dead: tuple[DeadLetter, ...]
    depths: dict[str, tuple[int, int]] = field(default_factory=dict)  # platform: (dests, jobs)
    depths_partial: bool = False  # only the first destinations with work were counted
    in_flight: int = 0  # fan-outs not done
    fan_outs: tuple[tuple[str, str, Progress], ...] = ()  # the first SHOWN: id, label, progress
    feeds: tuple[tuple[str, float | None, str], ...] = ()  # url, seconds since polled, outcome
    waiting: int = 0  # updates waiting for their publish_at
    scheduled: tuple[Scheduled, ...] = ()  # the soonest `SHOWN` of them

    def render(self) -> str:
        lines = [
            f"updates stream: {self.stream_length:,} entries, {self.pending_entries:,} being "
            "fanned out",
            f"stream lag: {self.lag:,} entries waiting for fan-out",
            f"workers: {len(self.workers)} live",
        ]
        pending = {c.name: c.pending for c in self.consumers}
        for w in self.workers:
            lines.append(f"  {w.name} (host {w.host}, pid {w.pid}): last seen {w.seen_ago:.1f}s "
                         f"ago, {pending.get(w.name, 0)} pending")  # fmt: skip
        lines.append(f"destinations: {self.destinations:,} subscribed, "
                     f"{self.destinations_with_work:,} with deliveries waiting")  # fmt: skip
        for platform, (dests, jobs) in sorted(self.depths.items()):
            lines.append(f"  {platform}: {dests:,} destinations, {jobs:,} jobs queued")
        if self.depths_partial:
            lines.append("  (counted over the first 10,000 destinations with work)")
        for slug, count in self.subscribers.items():
            lines.append(f"  {slug}: {count:,} subscribers")
        lines.append(f"dead letters: {self.dead_letters:,}")
        for d in self.recent_dead:
            where = d.destination or "(stream entry)"
            lines.append(f"  {d.id}  {where}  update={d.source_id}  {d.reason}")
        lines.append(f"fan-outs in flight: {self.in_flight:,}")
        for update_id, label, progress in self.fan_outs:
            lines += [f"  {update_id}  {label}", f"    {bar(progress)}"]
        if self.in_flight > len(self.fan_outs):
            lines.append(f"  … and {self.in_flight - len(self.fan_outs):,} more")
        lines.append(f"scheduled: {self.waiting:,} waiting for their time")
        for s in self.scheduled:
            lines.append(f"  {s.update.id}  at {s.at.isoformat()}  {s.update.topic} · "
                         f"{s.update.headline}")  # fmt: skip
        if self.feeds:
            lines.append(f"feeds: {len(self.feeds)}")
        for url, ago, outcome in self.feeds:
            when = (
                f"polled {ago:.0f}s ago: {outcome}"
                if ago is not None
                else outcome or "never polled"
            )
            lines.append(f"  {url}  {when}")
        return "\n".join(lines)


async def status(
    client: aioredis.Redis, config: Config, recent: int = 10, schedule: Schedule | None = None
) -> Status:
    keys = Keys(config.redis.key_prefix, config.redis.shards)
    stream, subscriptions = Stream(client, keys), Subscriptions(client, keys)
    dead = DeadLetters(client, keys)
    consumers = await stream.consumers()
    subscribers = {t.slug: await subscriptions.count(t.slug) for t in config.topics}
    flying = await in_flight(client, keys)
    registry = Registry(client, keys)
    fan_outs = [(i, await _label(registry, i), p) for i, p in flying[:SHOWN]]
    queues = Queues(client, keys)
    depths, partial = await queues.depths()
    return Status(
        stream_length=await stream.length(),
        pending_entries=await stream.pending_count() if consumers else 0,
        consumers=consumers,
        workers=tuple(await Workers(client, keys).live()),
        lag=await stream.backlog(),
        subscribers=subscribers,
        destinations=await subscriptions.destination_count(),
        destinations_with_work=await queues.ready.waiting(),
        depths=depths,
        depths_partial=partial,
        dead_letters=await dead.count(),
        recent_dead=tuple(await dead.recent(recent)),
        in_flight=len(flying),
        fan_outs=tuple(fan_outs),
        feeds=tuple(await feeds.polls(client, keys, config.feeds)),
        waiting=await schedule.count() if schedule else 0,
        scheduled=tuple(await schedule.pending(SHOWN)) if schedule else (),
    )


async def _label(registry: Registry, update_id: str) -> str:
    """`topic · headline` (cut to 60 characters) of an update, as far as it can be read."""
    try:
        update = await registry.latest(update_id)
    except InvalidUpdate:
        return "(its stored update cannot be read)"
    if update is None:
        return "(expired)"
    headline = update.headline if len(update.headline) <= 60 else update.headline[:59] + "…"
    return f"{update.topic} · {headline}"


async def retry_dead_letters(
    client: aioredis.Redis, config: Config, ids: Sequence[str] | None
) -> list[tuple[str, str]]:
    """Send dead letters through again (all when `ids` is None); return (id, outcome) pairs.

    A failed delivery is queued again for its destination; an entry that never fanned out goes
    back into the updates stream; an update never published (a scheduled one whose topic had
    left the config) is published. Each retried letter leaves the dead-letter stream.
    """
    keys = Keys(config.redis.key_prefix, config.redis.shards)
    queues, stream, dead = Queues(client, keys), Stream(client, keys), DeadLetters(client, keys)
    ledger = Ledger(client, keys, int(config.dispatcher.ledger_ttl_days * 86400))
    registry = Registry(client, keys)
    letters = await dead.recent(count=100_000)
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
        try:
            dest = Destination.parse(letter.destination) if letter.destination else None
        except InvalidUpdate as exc:  # a subscriber that was no destination: never deliverable
            results.append((letter.id, f"kept: its destination is invalid ({exc})"))
            continue
        if dest is not None:
            await ledger.add_targets(update.id, [dest])
            await queues.enqueue([dest], update.id, f"retry-{letter.id}", at=position(letter.id))
            outcome = f"queued again for {dest}"
        elif update.action is Action.PUBLISH and await registry.latest(update.id) is None:
            try:  # never published (a scheduled update that could not go): published now
                now = datetime.now(UTC)
                await Ingest.from_config(client, config).publish(replace(update, published_at=now))
            except InvalidUpdate as exc:
                results.append((letter.id, f"kept: {exc}"))
                continue
            outcome = "published"
        else:
            await stream.append(letter.payload)
            outcome = "back in the updates stream"
        await dead.remove(letter.id)
        log.info("dead letter retried id=%s outcome=%s", letter.id, outcome)
        results.append((letter.id, outcome))
    return results
