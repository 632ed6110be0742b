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
from relay.keys import Keys, as_str
from relay.ledger import ProgressBook
from relay.metrics import FANNED_OUT
from relay.model import Action, Destination, Update
from relay.queues import Queues
from relay.stream import UNREACHABLE, Entry, Outage, Stream, raise_if_cancelled

log = logging.getLogger(__name__)
READ_COUNT = 16
READ_BLOCK_MS = 500


class Dispatcher:
    """Consumes the updates stream as one member of the dispatchers' consumer group."""

    def __init__(self, client: aioredis.Redis, config: Config, consumer: str) -> None:
        self.client = client
        self.config = config
        self.keys = Keys(config.redis.key_prefix)
        self.stream = Stream(client, self.keys, consumer)
        self.queues = Queues(client, self.keys)
        self.settings = config.dispatcher
        self.ttl = int(self.settings.ledger_ttl_days * 86400)
        self.progress = ProgressBook(client, self.keys, self.ttl)
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
            last = await self.client.hget(self.keys.entry_errors, entry.id)
            reason = as_str(last) if last is not None else "unknown error"
            await self.stream.dead_letter(entry, f"failed {attempts - 1} times: {reason}")
            await self.client.hdel(self.keys.entry_errors, entry.id)
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
            await self.client.hset(self.keys.entry_errors, entry.id, f"{type(exc).__name__}: {exc}")
            return
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(self.keys.updates, self.keys.group, entry.id)
            pipe.hdel(self.keys.fanout_cursors, entry.id)
            pipe.hdel(self.keys.entry_errors, entry.id)
            pipe.publish(self.keys.wake, "1")  # jobs held behind this entry may go now
            await pipe.execute()
        log.info("fanned out update=%s rev=%d action=%s destinations=%d entry=%s",
                 update.id, update.revision, update.action.value, total, entry.id)  # fmt: skip

    async def _batches(self, entry: Entry, key: str) -> AsyncIterator[list[Destination]]:
        raw = await self.client.hget(self.keys.fanout_cursors, entry.id)
        cursor = int(raw) if raw is not None else 0
        started = raw is not None
        while True:
            if started and cursor == 0:
                return
            started = True
            cursor, members = await self.client.sscan(
                key, cursor=cursor, count=self.settings.batch_size
            )
            yield [Destination.parse(as_str(m)) for m in members]
            await self.client.hset(self.keys.fanout_cursors, entry.id, cursor)

    async def fan_out(self, entry: Entry, update: Update) -> int:
        """Queue `update` for its destinations in batches; return how many it reaches."""
        await self.progress.start(update.id, update.revision)
        targets = self.keys.targets(update.id)
        source = (
            self.keys.topic_subscribers(update.topic)
            if update.action is Action.PUBLISH
            else targets
        )
        async for batch in self._batches(entry, source):
            if not batch:
                continue
            if update.action is Action.PUBLISH:
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.sadd(targets, *(str(d) for d in batch))
                    pipe.expire(targets, self.ttl)
                    await pipe.execute()
            await self.queues.enqueue(batch, update.id, entry.id)
            FANNED_OUT.inc(len(batch))
        total = int(await self.client.scard(targets))
        await self.progress.fanned_out(update.id, total)
        return total
