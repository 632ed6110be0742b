"""The dispatcher's fan-out: each stream entry becomes one queued job per destination.

A publish goes to the topic's subscribers at that moment (read with SSCAN in batches, never the
whole set); an edit or delete goes to the destinations the update was queued for. Enqueuing is
idempotent, and the SSCAN cursor is saved after every batch, so a crash resumes the fan-out
where it stopped and repeats nothing. The entry is acknowledged only when every batch is queued
durably; the sender (`relay.sender`) does the rest.

Nothing poisons the stream: an entry that cannot be read (bytes that are not UTF-8, JSON that
does not decode, a missing or an unexpected field, an unconfigured topic) is dead-lettered with
the reason and acknowledged; a subscriber that is no destination is dead-lettered alone and
unsubscribed, and the rest of the fan-out goes on. The dispatchers also trim what every consumer
group has acknowledged (`Stream.trim`), and nothing else.

A fan-out may take longer than `dispatcher.claim_idle_seconds` (100,000 subscribers: ~37 s).
Its worker keeps the entry from looking idle (`Stream.hold`, every quarter of that time), so no
other worker claims it; such claims repeated the fan-out, and past `max_attempts` of them
turned an entry still being delivered into a dead letter. A worker that stalled past the idle
time and finds its entry claimed by another leaves it to that one, unacknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from functools import partial

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from relay import model
from relay.config import Config
from relay.errors import InvalidUpdate
from relay.keys import Keys, as_text
from relay.ledger import Ledger, ProgressBook
from relay.metrics import FANNED_OUT
from relay.model import Action, Destination, Update
from relay.queues import Queues
from relay.registry import decode
from relay.stream import UNREACHABLE, Entry, Outage, Stream, is_nogroup, raise_if_cancelled
from relay.subscriptions import Subscriptions, Unreadable

log = logging.getLogger(__name__)
READ_COUNT = 16
READ_BLOCK_MS = 500
TRIM_EVERY = 1.0  # seconds between trims: each reads the groups' state, cheap but not free
FIELDS = frozenset({"update"})


class TakenOver(Exception):
    """Another worker claimed the entry this one is fanning out (this one stalled too long)."""


class Dispatcher:
    """Consumes the updates stream as one member of the dispatchers' consumer group."""

    def __init__(self, client: aioredis.Redis, config: Config, consumer: str) -> None:
        self.client = client
        self.config = config
        keys = Keys(config.redis.key_prefix, config.redis.shards)
        self.stream = Stream(client, keys, consumer)
        self.queues = Queues(client, keys)
        self.subscriptions = Subscriptions(client, keys)
        self.settings = config.dispatcher
        ttl = int(self.settings.ledger_ttl_days * 86400)
        self.ledger = Ledger(client, keys, ttl)
        self.progress = ProgressBook(client, keys, ttl)
        self.idle_ms = int(self.settings.claim_idle_seconds * 1000)
        self.dead_letters = self.stream.dead_letters

    async def run(self, stop: asyncio.Event) -> None:
        """Fan out entries until `stop` is set; the entry in hand is finished first."""
        outage = Outage("dispatcher")
        next_claim = next_trim = 0.0
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
                if time.monotonic() >= next_trim:
                    next_trim = time.monotonic() + TRIM_EVERY
                    await self.stream.trim(self.config.redis.stream_maxlen)
                outage.over()
            except UNREACHABLE as exc:
                await outage.wait(exc, stop)
            except ResponseError as exc:
                if not is_nogroup(exc):
                    raise
                log.warning(
                    "the updates stream or its group is gone; creating it again",
                    extra={"worker": self.stream.consumer},
                )

    async def _claimed(self, entry: Entry) -> None:
        attempts = await self.stream.times_delivered(entry.id)
        if attempts > self.settings.max_attempts:
            reason = await self.stream.last_error(entry.id) or "unknown error"
            await self.stream.dead_letter(entry, f"failed {attempts - 1} times: {reason}")
            return
        await self.process(entry)

    def _read(self, entry: Entry) -> Update | str:
        """The update an entry holds, or why it holds none that can be fanned out."""
        if entry.problem is not None:
            return entry.problem
        payload = entry.fields.get("update")
        if not payload:
            return "entry has no 'update' field"
        if entry.fields.keys() != FIELDS:
            extra = ", ".join(repr(k) for k in sorted(entry.fields.keys() - FIELDS))
            return f"entry has unexpected fields: {extra}"
        try:
            update = decode(payload)
        except InvalidUpdate as exc:
            return f"unparseable update: {exc}"
        if self.config.topic(update.topic) is None:
            return f"topic {update.topic!r} is not configured"
        return update

    async def process(self, entry: Entry) -> None:
        """Queue one entry for every destination it goes to, then acknowledge it."""
        update = self._read(entry)
        if isinstance(update, str):
            await self.stream.dead_letter(entry, update)
            return
        try:
            total = await self.fan_out(entry, update)
        except UNREACHABLE:
            raise  # Redis itself is away: the run loop waits for it; the entry stays pending
        except TakenOver:
            log.warning("fan-out of entry=%s update=%s claimed by another worker; left to it",
                        entry.id, update.id,
                        extra={"update": update.id, "worker": self.stream.consumer})  # fmt: skip
            return
        except Exception as exc:
            # Left pending: claimed again later (by us or another worker), resuming at the
            # saved cursor; after max_attempts it becomes a dead letter with this reason.
            log.exception("fan-out failed entry=%s update=%s", entry.id, update.id,
                          extra={"update": update.id, "worker": self.stream.consumer})  # fmt: skip
            await self.stream.record_error(entry.id, f"{type(exc).__name__}: {exc}")
            return
        ready = self.queues.ready
        async with self.client.pipeline(transaction=True) as pipe:
            self.stream.ack_in(pipe, entry.id)
            if not ready.cluster:
                ready.wake_in(pipe)  # jobs held behind this entry may go now
            await pipe.execute()
        if ready.cluster:  # the channel is in another slot than the stream; a wake-up is only
            async with self.client.pipeline(transaction=False) as pipe:  # a hint: no MULTI
                ready.wake_in(pipe, entry.id)
                await pipe.execute()
        log.info("fanned out update=%s rev=%d action=%s destinations=%d entry=%s",
                 update.id, update.revision, update.action.value, total, entry.id,
                 extra={"update": update.id, "worker": self.stream.consumer})  # fmt: skip

    async def _batches(self, entry: Entry, update: Update) -> AsyncIterator[list[Destination]]:
        """A publish's subscribers or an edit's targets, batch by batch from the saved cursor."""
        saved = await self.stream.fanout_cursor(entry.id)
        cursor = saved or 0
        started = saved is not None
        count = self.settings.batch_size
        held = time.monotonic()
        while True:
            if started and cursor == 0:
                return
            started = True
            if time.monotonic() - held >= self.settings.claim_idle_seconds / 4:
                if not await self.stream.hold(entry.id):
                    raise TakenOver(entry.id)
                held = time.monotonic()
            if update.action is Action.PUBLISH:
                cursor, batch, unreadable = await self.subscriptions.scan(
                    update.topic, cursor, count
                )
                if unreadable:
                    await self._drop_subscribers(update, unreadable)
            else:
                cursor, batch = await self.ledger.scan_targets(update.id, cursor, count)
            yield batch
            await self.stream.save_fanout_cursor(entry.id, cursor)

    async def _drop_subscribers(self, update: Update, members: list[Unreadable]) -> None:
        """Dead-letter and unsubscribe subscribers that are no destination, one by one.

        They were written around the relay (straight into Redis, or by an older version): each
        can never be served, and must not hold the topic's other subscribers.
        """
        async with self.client.pipeline(transaction=False) as pipe:
            for member, why in members:
                text = as_text(member)
                reason = f"subscriber {text!r} of topic {update.topic!r}: {why}; unsubscribed"
                self.dead_letters.add_in(pipe, update.id, model.encode(update), reason, text)
                self.subscriptions.drop_unreadable_in(pipe, update.topic, member)
                log.warning("dead letter update=%s dest=%r reason=%s", update.id, text, reason,
                            extra={"update": update.id, "dest": text,
                                   "worker": self.stream.consumer})  # fmt: skip
            await pipe.execute()

    async def fan_out(self, entry: Entry, update: Update) -> int:
        """Queue `update` for its destinations in batches; return how many it reaches."""
        await self.progress.start(update.id, update.revision)
        async for batch in self._batches(entry, update):
            if not batch:
                continue
            publish = update.action is Action.PUBLISH
            if self.queues.replication.cluster:
                # Targets and jobs in one pipeline ending with WAIT on every node it wrote to
                # (relay.replication): what the entry's acknowledgement stands for survives a
                # failover.
                targets = partial(self.ledger.add_targets_in, update_id=update.id, dests=batch)
                await self.queues.enqueue(
                    batch, update.id, entry.id, also=targets if publish else None
                )
            else:
                if publish:
                    await self.ledger.add_targets(update.id, batch)
                await self.queues.enqueue(batch, update.id, entry.id)
            FANNED_OUT.inc(len(batch))
        return await self.progress.fanned_out(update.id)
