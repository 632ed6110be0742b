"""The dispatcher's fan-out: each stream entry becomes one queued job per destination.

A publish goes to the topic's subscribers at that moment (read with SSCAN in batches, never the
whole set); an edit or delete goes to the destinations the update was queued for. Enqueuing is
idempotent, and the SSCAN cursor is saved after every batch, so a crash resumes the fan-out
where it stopped and repeats nothing. The entry is acknowledged only when every batch is queued
durably; the sender (`relay.sender`) does the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from relay import model
from relay.config import Config
from relay.errors import InvalidUpdate
from relay.keys import Keys
from relay.ledger import Ledger, ProgressBook
from relay.metrics import FANNED_OUT
from relay.model import Action, Destination, Update
from relay.queues import Queues
from relay.stream import UNREACHABLE, Entry, Outage, Stream, raise_if_cancelled
from relay.subscriptions import Subscriptions

log = logging.getLogger(__name__)
READ_COUNT = 16
READ_BLOCK_MS = 500


class Dispatcher:
    """Consumes the updates stream as one member of the dispatchers' consumer group."""

    def __init__(self, client: aioredis.Redis, config: Config, consumer: str) -> None:
        self.client = client
        self.config = config
        keys = Keys(config.redis.key_prefix)
        self.stream = Stream(client, keys, consumer)
        self.queues = Queues(client, keys)
        self.subscriptions = Subscriptions(client, keys)
        self.settings = config.dispatcher
        ttl = int(self.settings.ledger_ttl_days * 86400)
        self.ledger = Ledger(client, keys, ttl)
        self.progress = ProgressBook(client, keys, ttl)
        self.idle_ms = int(self.settings.claim_idle_seconds * 1000)

    async def run(self, stop: asyncio.Event) -> None:
        """Fan out entries until `stop` is set; the entry in hand is finished first."""
        outage = Outage("dispatcher")
        next_claim = 0.0
        while not stop.is_set():
            raise_if_cancelled()
            try:
                await self.stream.ensure_group()
                if time.monotonic() >= next_claim:
                    next_claim = time.monotonic() + self.settings.claim_idle_seconds / 2
                    for entry in await self.stream.claim(self.idle_ms, READ_COUNT):
                        await self._claimed(entry)
                for entry in await self.stream.read(READ_COUNT, READ_BLOCK_MS):
                    await self.process(entry)
                    if stop.is_set():
                        break
                outage.over()
            except UNREACHABLE as exc:
                await outage.wait(exc, stop)

    async def _claimed(self, entry: Entry) -> None:
        attempts = await self.stream.times_delivered(entry.id)
        if attempts > self.settings.max_attempts:
            reason = await self.stream.last_error(entry.id) or "unknown error"
            await self.stream.dead_letter(entry, f"failed {attempts - 1} times: {reason}")
            return
        await self.process(entry)

    async def process(self, entry: Entry) -> None:
        """Queue one entry for every destination it goes to, then acknowledge it."""
        payload = entry.fields.get("update")
        if not payload:
            await self.stream.dead_letter(entry, "entry has no 'update' field")
            return
        try:
            update = model.decode(payload)
        except InvalidUpdate as exc:
            await self.stream.dead_letter(entry, f"unparseable update: {exc}")
            return
        if self.config.topic(update.topic) is None:
            await self.stream.dead_letter(entry, f"topic {update.topic!r} is not configured")
            return
        try:
            total = await self.fan_out(entry, update)
        except UNREACHABLE:
            raise  # Redis itself is away: the run loop waits for it; the entry stays pending
        except Exception as exc:
            # Left pending: claimed again later (by us or another worker), resuming at the
            # saved cursor; after max_attempts it becomes a dead letter with this reason.
            log.exception("fan-out failed entry=%s update=%s", entry.id, update.id)
            await self.stream.record_error(entry.id, f"{type(exc).__name__}: {exc}")
            return
        async with self.client.pipeline(transaction=True) as pipe:
            self.stream.ack_in(pipe, entry.id)
            self.queues.wake_in(pipe)  # jobs held behind this entry may go now
            await pipe.execute()
        log.info("fanned out update=%s rev=%d action=%s destinations=%d entry=%s",
                 update.id, update.revision, update.action.value, total, entry.id)  # fmt: skip

    async def _batches(self, entry: Entry, update: Update) -> AsyncIterator[list[Destination]]:
        """A publish's subscribers or an edit's targets, batch by batch from the saved cursor."""
        saved = await self.stream.fanout_cursor(entry.id)
        cursor = saved or 0
        started = saved is not None
        count = self.settings.batch_size
        while True:
            if started and cursor == 0:
                return
            started = True
            if update.action is Action.PUBLISH:
                cursor, batch = await self.subscriptions.scan(update.topic, cursor, count)
            else:
                cursor, batch = await self.ledger.scan_targets(update.id, cursor, count)
            yield batch
            await self.stream.save_fanout_cursor(entry.id, cursor)

    async def fan_out(self, entry: Entry, update: Update) -> int:
        """Queue `update` for its destinations in batches; return how many it reaches."""
        await self.progress.start(update.id, update.revision)
        async for batch in self._batches(entry, update):
            if not batch:
                continue
            if update.action is Action.PUBLISH:
                await self.ledger.add_targets(update.id, batch)
            await self.queues.enqueue(batch, update.id, entry.id)
            FANNED_OUT.inc(len(batch))
        total = await self.ledger.count_targets(update.id)
        await self.progress.fanned_out(update.id, total)
        return total
