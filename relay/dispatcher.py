"""The dispatcher: reads the updates stream and fans each update out to its destinations.

This first version delivers inline, one entry at a time, and acknowledges an entry only after
every delivery's outcome is recorded in the ledger (or as a dead letter). The ledger makes a
re-run of an entry skip the destinations already served, so a crash repeats at most the sends
that were in flight. Per-destination queues, shared budgets and the scheduler come next
(see docs/architecture.md, "What comes next").
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import redis.asyncio as aioredis

from adapters.base import Adapter
from relay import model
from relay.config import Config, TopicConfig
from relay.errors import (
    DeliveryError,
    Gone,
    InvalidUpdate,
    Moved,
    RateLimited,
    Rejected,
    Transient,
)
from relay.keys import Keys, as_str
from relay.ledger import Copy, Ledger
from relay.model import Action, Destination, Update
from relay.stream import Entry, Stream, record_dead_delivery
from relay.subscriptions import Subscriptions

log = logging.getLogger(__name__)
READ_COUNT = 16
READ_BLOCK_MS = 500
MAX_BACKOFF = 30.0
CONCURRENCY = 32


@dataclass(frozen=True)
class Outcome:
    """How one delivery ended."""

    dest: Destination
    ok: bool
    reason: str = ""


class Dispatcher:
    """Consumes the stream as one member of the dispatchers' consumer group."""

    def __init__(
        self,
        client: aioredis.Redis,
        config: Config,
        adapters: Mapping[str, Adapter],
        consumer: str,
    ) -> None:
        self.client = client
        self.config = config
        self.keys = Keys(config.redis.key_prefix)
        self.adapters = adapters
        self.stream = Stream(client, self.keys, consumer)
        self.subscriptions = Subscriptions(client, self.keys)
        ttl = int(config.dispatcher.ledger_ttl_days * 86400)
        self.ledger = Ledger(client, self.keys, ttl)
        self.settings = config.dispatcher
        self._gate = asyncio.Semaphore(CONCURRENCY)

    async def run(self, stop: asyncio.Event) -> None:
        """Process entries until `stop` is set; an entry in progress is finished first."""
        await self.stream.ensure_group()
        idle_ms = int(self.settings.claim_idle_seconds * 1000)
        next_claim = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_claim:
                next_claim = time.monotonic() + self.settings.claim_idle_seconds / 2
                for entry in await self.stream.claim(idle_ms, READ_COUNT):
                    await self._claimed(entry)
            for entry in await self.stream.read(READ_COUNT, READ_BLOCK_MS):
                await self.process(entry)
                if stop.is_set():
                    break

    async def _claimed(self, entry: Entry) -> None:
        attempts = await self.stream.times_delivered(entry.id)
        if attempts > self.settings.max_attempts:
            last = await self.client.hget(self.keys.entry_errors, entry.id)
            reason = as_str(last) if last is not None else "unknown error"
            await self.stream.dead_letter(entry, f"failed {attempts - 1} times: {reason}")
            await self.client.hdel(self.keys.entry_errors, entry.id)
            return
        await self.process(entry)

    async def process(self, entry: Entry) -> None:
        """Deliver one entry everywhere it goes, then acknowledge it."""
        payload = entry.fields.get("update")
        if not payload:
            await self.stream.dead_letter(entry, "entry has no 'update' field")
            return
        try:
            update = model.decode(payload)
        except InvalidUpdate as exc:
            await self.stream.dead_letter(entry, f"unparseable update: {exc}")
            return
        topic = self.config.topic(update.topic)
        if topic is None:
            await self.stream.dead_letter(entry, f"topic {update.topic!r} is not configured")
            return
        try:
            outcomes = await self.fan_out(entry, update, topic)
        except Exception as exc:
            # Left pending: another pass (or another worker) retries it; after
            # max_attempts it becomes a dead letter with this reason.
            log.exception("entry failed entry=%s update=%s", entry.id, update.id)
            await self.client.hset(self.keys.entry_errors, entry.id, f"{type(exc).__name__}: {exc}")
            return
        await self.stream.ack(entry.id)
        failed = sum(1 for o in outcomes if not o.ok)
        log.info(
            "dispatched update=%s rev=%d action=%s destinations=%d failed=%d",
            update.id, update.revision, update.action.value, len(outcomes), failed,
        )  # fmt: skip

    async def _targets(self, update: Update) -> AsyncIterator[list[Destination]]:
        if update.action is Action.PUBLISH:
            async for batch in self.subscriptions.destinations(
                update.topic, self.settings.batch_size
            ):
                yield batch
        else:
            # Edits and deletes go to the copies that exist, not to today's subscribers.
            copies = await self.ledger.copies(update.id)
            dests = sorted(d for d, c in copies.items() if not c.deleted)
            for i in range(0, len(dests), self.settings.batch_size):
                yield dests[i : i + self.settings.batch_size]

    async def fan_out(self, entry: Entry, update: Update, topic: TopicConfig) -> list[Outcome]:
        progress = self.keys.progress(update.id)
        await self.client.hset(progress, mapping={"revision": update.revision, "delivered": 0,
                                                  "failed": 0, "done": 0})  # fmt: skip
        outcomes: list[Outcome] = []
        async for batch in self._targets(update):
            await self.client.hincrby(progress, "total", len(batch))
            results = await asyncio.gather(*(self._guarded(entry, update, topic, d) for d in batch))
            outcomes.extend(results)
        await self.client.hset(progress, "done", 1)
        await self.client.expire(progress, int(self.settings.ledger_ttl_days * 86400))
        return outcomes

    async def _guarded(
        self, entry: Entry, update: Update, topic: TopicConfig, dest: Destination
    ) -> Outcome:
        async with self._gate:
            outcome = await self.deliver(entry, update, topic, dest)
        field = "delivered" if outcome.ok else "failed"
        await self.client.hincrby(self.keys.progress(update.id), field, 1)
        return outcome

    async def deliver(
        self, entry: Entry, update: Update, topic: TopicConfig, dest: Destination
    ) -> Outcome:
        """One update to one destination, with retries; the result goes to the ledger."""
        adapter = self.adapters.get(dest.platform)
        if adapter is None:
            reason = f"no adapter for platform {dest.platform!r} (is it enabled?)"
            await record_dead_delivery(self.client, self.keys, entry, reason, str(dest))
            return Outcome(dest, False, reason)
        last = ""
        for attempt in range(self.settings.max_attempts):
            copy = await self.ledger.get(update.id, dest)
            if copy is not None and copy.revision >= update.revision:
                return Outcome(dest, True, "already delivered")
            try:
                ids = await self._call(adapter, update, topic, dest, copy)
            except Gone as exc:
                await self.subscriptions.unsubscribe(dest)
                log.warning("gone dest=%s update=%s reason=%s", dest, update.id, exc.reason)
                return Outcome(dest, False, f"gone: {exc.reason}")
            except Moved as exc:
                new = Destination(dest.platform, exc.new_chat_id, dest.thread_id)
                await self.subscriptions.move(dest, new)
                log.warning("moved dest=%s to=%s update=%s", dest, new, update.id)
                dest = new
                continue
            except Rejected as exc:
                await record_dead_delivery(self.client, self.keys, entry, exc.reason, str(dest))
                return Outcome(dest, False, exc.reason)
            except RateLimited as exc:
                last = exc.reason
                await asyncio.sleep(exc.retry_after)
                continue
            except (Transient, DeliveryError) as exc:
                last = exc.reason
                await asyncio.sleep(min(MAX_BACKOFF, 0.2 * 2**attempt) * random.uniform(0.5, 1))
                continue
            deleted = update.action is Action.DELETE
            await self.ledger.record(update.id, dest, Copy(update.revision, ids, deleted))
            return Outcome(dest, True)
        reason = f"gave up after {self.settings.max_attempts} attempts: {last}"
        await record_dead_delivery(self.client, self.keys, entry, reason, str(dest))
        return Outcome(dest, False, reason)

    async def _call(
        self,
        adapter: Adapter,
        update: Update,
        topic: TopicConfig,
        dest: Destination,
        copy: Copy | None,
    ) -> tuple[str, ...]:
        if update.action is Action.PUBLISH:
            return await adapter.send(dest, update, topic)
        if copy is None:
            return ()
        if update.action is Action.EDIT:
            return await adapter.edit(dest, update, topic, copy.message_ids)
        await adapter.delete(dest, copy.message_ids)
        return copy.message_ids
