"""Bring one destination's copy of one update up to date: send, edit, delete, or nothing.

What to do is decided when the job is served, from the update's latest revision and the ledger,
so a job is idempotent: serving it twice (a crash before the queue pop) does nothing the second
time. Only a send whose answer was lost in a crash can repeat; Discord's nonce absorbs that.

No job holds its queue: one whose stored update or ledger copy no longer decodes becomes a dead
letter at once; one that fails in a way no `DeliveryError` names (a bug, a Redis type error) is
retried like a failed send, then dead-lettered after `dispatcher.max_attempts`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import redis.asyncio as aioredis

from relay import model
from relay.adapter import Adapter, Fleet, Pace
from relay.budgets import Budgets, Pacer, Renew, Slots
from relay.chat_settings import NONE, ChatSettings, DestinationSettings
from relay.config import Config, TopicConfig
from relay.dead_letters import DeadLetters
from relay.digest import Digester
from relay.errors import DeliveryError, Gone, InvalidUpdate, Moved, RateLimited, Rejected
from relay.keys import as_text
from relay.ledger import Copy, Ledger, ProgressBook, parse_copy
from relay.metrics import CALL_SECONDS, DELIVERIES
from relay.model import Destination, Update
from relay.plan import Op, cut_short, plan
from relay.queues import Job, Queues, position
from relay.registry import Registry
from relay.stream import UNREACHABLE, Stream
from relay.subscriptions import Subscriptions

log = logging.getLogger(__name__)
MAX_BACKOFF = 60.0
WATERMARK_WAIT = 0.02
# A 429 that names no limit may be the bot's own (Telegram counts it over any one second):
# every call of the bot waits this long, at most, so that other chats do not meet it too.
SHARED_HOLD = 1.0


@dataclass
class Syncer:
    """Serves the head job of a destination's queue."""

    client: aioredis.Redis  # for the pipelines the owners below share
    config: Config
    adapters: Mapping[str, Adapter]
    registry: Registry
    queues: Queues
    ledger: Ledger
    progress: ProgressBook
    budgets: Budgets
    subscriptions: Subscriptions
    stream: Stream
    dead_letters: DeadLetters

    def __post_init__(self) -> None:
        adapters = self.adapters
        self.fleet = adapters if isinstance(adapters, Fleet) else Fleet(adapters.values())
        self.digester = Digester(self.client, self.config, self.fleet, self.registry,
                                 self.queues, self.ledger, self.progress, self.budgets,
                                 self.subscriptions)  # fmt: skip

    def _ids(
        self, dest: Destination, update_id: str | None = None, **more: object
    ) -> dict[str, object]:
        """A log line's `extra=`: the ids a JSON line carries as fields (None: left out)."""
        return {"dest": str(dest), "update": update_id, "worker": self.stream.consumer, **more}

    async def step(self, dest: Destination, renew: Renew | None = None) -> float | None:
        """Serve the head job. None: the queue is empty; 0: go on; > 0: come back in that long.

        `renew` keeps the destination's lease while a multi-part copy waits for its slots.
        """
        async with self.client.pipeline(transaction=False) as pipe:
            # One round trip, the low-water mark read first: a job queued by an entry that is
            # still being fanned out then always sits behind it.
            self.stream.low_water_in(pipe)
            await self.queues.head(dest, client=pipe)
            self.subscriptions.settings.get_in(pipe, dest)  # read once for the step's jobs
            raw_low, raw_head, raw_settings = await pipe.execute(raise_on_error=False)
        settings = ChatSettings.parse(raw_settings)
        low_entry = self.stream.parse_low_water(raw_low)
        low = position(low_entry) if low_entry is not None else None
        head = self.queues.parse_head(raw_head)
        if head is None:
            return None
        job = head
        try:
            if job.backlog > self.config.dispatcher.digest_threshold:
                delay = await self.digester.send(dest, low, renew, settings)
                if delay is not None:
                    return delay
                head = await self.queues.head(dest)
                if head is None:
                    return None
                job = head
            return await self._serve(dest, job, low, renew, settings)
        except UNREACHABLE:
            raise  # Redis is away: nothing is wrong with the job
        except Exception as exc:
            log.exception("job failed dest=%s update=%s", dest, job.update_id,
                          extra=self._ids(dest, job.update_id))  # fmt: skip
            return await self._failed(dest, job, None, f"{type(exc).__name__}: {exc}")

    async def _serve(
        self,
        dest: Destination,
        job: Job,
        low: int | None,
        renew: Renew | None,
        settings: DestinationSettings = NONE,
    ) -> float | None:
        if low is not None and job.position > low:
            # An older entry is still being fanned out (maybe to this destination): serving
            # this job now could put it before that one. Its fan-out finishes in moments.
            return WATERMARK_WAIT
        async with self.client.pipeline(transaction=False) as pipe:
            self.registry.latest_in(pipe, job.update_id)
            self.ledger.get_in(pipe, job.update_id, dest)
            self.subscriptions.bot_in(pipe, dest)
            raw_update, raw_copy, raw_bot = await pipe.execute()
        try:
            update = self.registry.parse(raw_update)
            copy = parse_copy(raw_copy)
        except (InvalidUpdate, ValueError) as exc:
            # Bytes that do not decode now never will: retrying cannot help.
            payload = as_text(raw_update) if raw_update is not None else ""
            await self._dead(dest, job, None, f"stored data cannot be read: {exc}", payload)
            return 0.0
        # A copy is changed by the bot that sent it; a new one goes through the bound bot.
        live = copy is not None and copy.message_ids and not copy.deleted
        bot = copy.bot if copy is not None and live else self.subscriptions.parse_bot(raw_bot)
        adapter = self.fleet.pick(dest.platform, bot)
        topic = self.config.topic(update.topic) if update is not None else None
        if update is None or topic is None or adapter is None:
            why = ("unknown update" if update is None else
                   f"no adapter for platform {dest.platform!r} (is it enabled?)"
                   if self.fleet.pick(dest.platform) is None else
                   f"bot {bot!r} is not among the {dest.platform} bots" if adapter is None
                   else f"topic {update.topic!r} is not configured")  # fmt: skip
            await self._dead(dest, job, update, why)
            return 0.0
        op = plan(update, copy)
        chosen = settings.of(update.topic)
        if op is Op.SEND and chosen.skips(update.breaking):  # a chat that wants breaking only
            op = None
        if op is None:
            DELIVERIES.labels(dest.platform, "up_to_date").inc()
            await self._done(dest, job, update, ok=True)
            return 0.0
        topic = chosen.apply(topic)  # as this chat wants it: silent, link previews
        # A copy is admitted whole: a slot for each part's call, each call made at its slot.
        parts = len(adapter.render(update, topic)) if op is not Op.DELETE else 1
        if op is Op.RESUME and copy is not None:
            parts = max(1, parts - len(copy.message_ids))
        budgets = adapter.budgets(dest)
        slots = await self.budgets.reserve(budgets, parts)
        if not isinstance(slots, Slots):
            return slots  # the destination's own budget opens then: come back for it, once
        pace = self.budgets.pace(budgets, slots, renew)
        return await self._call(adapter, dest, job, update, topic, op, copy, pace)

    async def _call(
        self,
        adapter: Adapter,
        dest: Destination,
        job: Job,
        update: Update,
        topic: TopicConfig,
        op: Op,
        copy: Copy | None,
        pace: Pace,
    ) -> float | None:
        """Make the calls and record them; None when that emptied the destination's queue."""
        outcome = "failed"
        try:
            ids = await self._platform(adapter, dest, update, topic, op, copy, pace)
        except DeliveryError as exc:
            if isinstance(pace, Pacer):
                await self.budgets.settle(pace)
            if exc.sent is not None:  # parts went out, or changed, before it failed
                copy = replace(cut_short(update, op, copy, exc.sent), bot=adapter.bot_name)
                await self.ledger.record(update.id, dest, copy)
            outcome, delay = await self._failure(adapter, dest, job, update, op, copy, exc)
            return delay
        else:
            outcome = op.value
        finally:
            DELIVERIES.labels(dest.platform, outcome).inc()
        deleted = op is Op.DELETE
        async with self.client.pipeline(transaction=False) as pipe:
            # One round trip: the ledger first, so a crash here repeats nothing.
            copied = Copy(update.revision, ids, deleted, bot=adapter.bot_name)
            self.ledger.record_in(pipe, update.id, dest, copied)
            if isinstance(pace, Pacer):
                await self.budgets.settle(pace, client=pipe)
            self.queues.reset_attempts_in(pipe, dest, update.id)
            await self.progress.count(update.id, update.revision, dest, ok=True, client=pipe)
            await self.queues.complete(dest, job, client=pipe)
            left = (await pipe.execute())[-1]
        log.debug("%s dest=%s update=%s rev=%d", op.value, dest, update.id, update.revision,
                  extra=self._ids(dest, update.id))  # fmt: skip
        return None if int(left) == 0 else 0.0

    async def _failure(
        self,
        adapter: Adapter,
        dest: Destination,
        job: Job,
        update: Update,
        op: Op,
        copy: Copy | None,
        exc: DeliveryError,
    ) -> tuple[str, float]:
        """Handle a failed call: (the outcome counted, the delay before the next step)."""
        if isinstance(exc, Gone):
            topics = await self.subscriptions.unsubscribe(dest)
            dropped = await self.queues.clear(dest)
            log.warning("gone dest=%s update=%s reason=%s dropped=%d",
                        dest, update.id, exc.reason, len(dropped),
                        extra=self._ids(dest, update.id))  # fmt: skip
            if copy is not None and op in (Op.EDIT, Op.DELETE):
                await self._lose(update, dest, copy, f"gone: {exc.reason}")
            if topics or op is Op.SEND:  # the first time: later ones would only repeat it
                # Recorded so `relay status` shows why the destination stopped receiving.
                reason = f"gone, unsubscribed from {','.join(topics) or 'nothing'}: {exc.reason}"
                await self.dead_letters.add(update.id, model.encode(update), reason, str(dest))
            await self.progress.count(update.id, update.revision, dest, ok=False)
            return "gone", 0.0
        if isinstance(exc, Moved):
            new = Destination(dest.platform, exc.new_chat_id, dest.thread_id)
            if copy is not None and op in (Op.EDIT, Op.DELETE):
                await self._moved_copy(update, dest, new, copy)
                await self._done(dest, job, update, ok=False)
            await self._move(dest, new)
            return "moved", 0.0
        if isinstance(exc, Rejected):
            await self._dead(dest, job, update, exc.reason)
            return "rejected", 0.0
        if isinstance(exc, RateLimited):
            budgets = adapter.budgets(dest)
            named = [b for b in budgets if b.key == exc.budget_key] or budgets[-1:]
            for budget in named:
                await self.budgets.pause(budget, exc.retry_after)
            if not exc.named:  # it may have been the bot's limit: hold its calls a moment too
                for budget in budgets[:-1]:
                    if budget not in named:
                        await self.budgets.pause(budget, min(exc.retry_after, SHARED_HOLD))
            log.info("rate limited dest=%s retry_after=%.2f", dest, exc.retry_after,
                     extra=self._ids(dest, update.id))  # fmt: skip
            return "rate_limited", max(exc.retry_after, 0.001)
        return "failed", await self._failed(dest, job, update, exc.reason)

    async def _lose(self, update: Update, dest: Destination, copy: Copy, why: str) -> None:
        """Mark a copy no edit can reach any more: later edits and deletes skip it."""
        await self.ledger.record(update.id, dest, replace(copy, lost=why))

    async def _moved_copy(
        self, update: Update, old: Destination, new: Destination, copy: Copy
    ) -> None:
        """A copy sent before its group became a supergroup: it stays as it is, once recorded.

        Telegram shows the old group's history in the supergroup, so readers keep the copy; no
        bot can edit or delete it there, and sending the revision again would show it twice.
        """
        why = f"moved to {new}: a copy sent before the group became a supergroup cannot change"
        await self._lose(update, old, copy, why)
        await self.dead_letters.add(update.id, model.encode(update), why, str(old))
        log.warning("copy frozen dest=%s update=%s: %s", old, update.id, why,
                    extra=self._ids(old, update.id))  # fmt: skip

    async def _platform(
        self,
        adapter: Adapter,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        op: Op,
        copy: Copy | None,
        pace: Pace,
    ) -> tuple[str, ...]:
        """The platform call alone (timed), returning the message ids the copy now has."""
        started = time.perf_counter()
        try:
            if op is Op.SEND:
                return await adapter.send(dest, update, topic, pace=pace)
            assert copy is not None
            if op is Op.RESUME:
                return await adapter.send(dest, update, topic, pace=pace, sent=copy.message_ids)
            if op is Op.EDIT:
                return await adapter.edit(dest, update, topic, copy.message_ids, pace=pace)
            await adapter.delete(dest, copy.message_ids)
            return copy.message_ids
        finally:
            CALL_SECONDS.labels(dest.platform, op.value).observe(time.perf_counter() - started)

    async def _done(self, dest: Destination, job: Job, update: Update | None, ok: bool) -> None:
        await self.queues.complete(dest, job)
        if update is not None:
            await self.progress.count(update.id, update.revision, dest, ok=ok)

    async def _dead(
        self, dest: Destination, job: Job, update: Update | None, reason: str, payload: str = ""
    ) -> None:
        payload = model.encode(update) if update is not None else payload
        await self.dead_letters.add(job.update_id, payload, reason, str(dest))
        await self._done(dest, job, update, ok=False)

    async def _failed(
        self, dest: Destination, job: Job, update: Update | None, reason: str
    ) -> float:
        attempts = await self.queues.count_attempt(dest, job.update_id)
        if attempts >= self.config.dispatcher.max_attempts:
            await self.queues.reset_attempts(dest, job.update_id)
            await self._dead(dest, job, update, f"gave up after {attempts} attempts: {reason}")
            return 0.0
        backoff = min(MAX_BACKOFF, 0.2 * 2.0**attempts) * random.uniform(0.5, 1.0)
        log.info("retry dest=%s update=%s attempt=%d in=%.2fs reason=%s",
                 dest, job.update_id, attempts, backoff, reason,
                 extra=self._ids(dest, job.update_id, attempt=attempts))  # fmt: skip
        return backoff

    async def _move(self, old: Destination, new: Destination) -> None:
        """A Telegram group became a supergroup: re-key subscriptions and queue.

        A queued update that never reached the old group goes to the supergroup; one whose copy
        is in the old group stays there as it is (`_moved_copy`).
        """
        await self.subscriptions.move(old, new)
        pending = await self.queues.positions(old)
        await self.queues.clear(old)
        requeued = 0
        for update_id, at in pending:
            copy = await self.ledger.get(update_id, old)
            update = await self.registry.latest(update_id)
            if copy is not None and update is not None and plan(update, copy) is not None:
                await self._moved_copy(update, old, new, copy)
                continue
            await self.ledger.move_target(update_id, old, new)
            await self.queues.enqueue([new], update_id, f"moved-{update_id}", at=at)
            requeued += 1
        log.warning("moved dest=%s to=%s requeued=%d", old, new, requeued,
                    extra=self._ids(old))  # fmt: skip
