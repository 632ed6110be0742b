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
from dataclasses import dataclass
from enum import Enum

import redis.asyncio as aioredis

from relay import markup, model
from relay.adapter import Adapter
from relay.budgets import Budgets
from relay.config import Config, TopicConfig
from relay.dead_letters import DeadLetters
from relay.errors import DeliveryError, Gone, InvalidUpdate, Moved, RateLimited, Rejected
from relay.keys import as_text
from relay.ledger import Copy, Ledger, ProgressBook, parse_copy
from relay.links import canonical_url
from relay.metrics import CALL_SECONDS, DELIVERIES
from relay.model import Action, Destination, Update
from relay.queues import Job, Queues, position
from relay.registry import Registry
from relay.stream import UNREACHABLE, Stream
from relay.subscriptions import Subscriptions

log = logging.getLogger(__name__)
MAX_BACKOFF = 60.0
WATERMARK_WAIT = 0.02
DIGEST_LINES = 20
# Queued jobs a digest looks at: enough to find its lines past deleted and already sent ones,
# few enough that a queue of thousands costs the same as a short one.
DIGEST_SCAN = 4 * DIGEST_LINES


class Op(Enum):
    SEND = "send"
    EDIT = "edit"
    DELETE = "delete"


def plan(update: Update, copy: Copy | None) -> Op | None:
    """What the destination needs so that its copy shows `update`."""
    if update.action is Action.DELETE:
        live = copy is not None and not copy.deleted and not copy.digest
        return Op.DELETE if live else None
    if copy is None:
        return Op.SEND  # the original never went out here: send the latest revision
    if copy.digest or copy.deleted or copy.revision >= update.revision:
        return None
    return Op.EDIT


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

    async def step(self, dest: Destination) -> float | None:
        """Serve the head job. None: the queue is empty; 0: go on; > 0: come back in that long."""
        low_entry = await self.stream.low_water()
        low = position(low_entry) if low_entry is not None else None
        head = await self.queues.head(dest)
        if head is None:
            return None
        job = head
        try:
            if job.backlog > self.config.dispatcher.digest_threshold:
                delay = await self._digest(dest, low)
                if delay is not None:
                    return delay
                head = await self.queues.head(dest)
                if head is None:
                    return None
                job = head
            return await self._serve(dest, job, low)
        except UNREACHABLE:
            raise  # Redis is away: nothing is wrong with the job
        except Exception as exc:
            log.exception("job failed dest=%s update=%s", dest, job.update_id)
            return await self._failed(dest, job, None, f"{type(exc).__name__}: {exc}")

    async def _serve(self, dest: Destination, job: Job, low: int | None) -> float:
        if low is not None and job.position > low:
            # An older entry is still being fanned out (maybe to this destination): serving
            # this job now could put it before that one. Its fan-out finishes in moments.
            return WATERMARK_WAIT
        async with self.client.pipeline(transaction=False) as pipe:
            self.registry.latest_in(pipe, job.update_id)
            self.ledger.get_in(pipe, job.update_id, dest)
            raw_update, raw_copy = await pipe.execute()
        try:
            update = self.registry.parse(raw_update)
            copy = parse_copy(raw_copy)
        except (InvalidUpdate, ValueError) as exc:
            # Bytes that do not decode now never will: retrying cannot help.
            payload = as_text(raw_update) if raw_update is not None else ""
            await self._dead(dest, job, None, f"stored data cannot be read: {exc}", payload)
            return 0.0
        adapter = self.adapters.get(dest.platform)
        topic = self.config.topic(update.topic) if update is not None else None
        if update is None or topic is None or adapter is None:
            why = ("unknown update" if update is None else
                   f"no adapter for platform {dest.platform!r} (is it enabled?)" if adapter is None
                   else f"topic {update.topic!r} is not configured")  # fmt: skip
            await self._dead(dest, job, update, why)
            return 0.0
        op = plan(update, copy)
        if op is None:
            DELIVERIES.labels(dest.platform, "up_to_date").inc()
            await self._done(dest, job, update, ok=True)
            return 0.0
        weight = len(adapter.render(update, topic)) if op is not Op.DELETE else 1
        budgets = adapter.budgets(dest)
        wait = await self.budgets.acquire(budgets, weight)
        if wait > 0:
            # Every destination refused by a shared budget learns the same opening; spread
            # their next attempts over one interval so they do not stampede that instant.
            return wait + random.uniform(0, min(b.per / b.rate for b in budgets))
        return await self._call(adapter, dest, job, update, topic, op, copy)

    async def _call(
        self,
        adapter: Adapter,
        dest: Destination,
        job: Job,
        update: Update,
        topic: TopicConfig,
        op: Op,
        copy: Copy | None,
    ) -> float:
        outcome = "failed"
        try:
            ids = await self._platform(adapter, dest, update, topic, op, copy)
        except Gone as exc:
            outcome = "gone"
            dropped = await self.queues.clear(dest)
            topics = await self.subscriptions.unsubscribe(dest)
            log.warning("gone dest=%s update=%s reason=%s dropped=%d",
                        dest, update.id, exc.reason, len(dropped))  # fmt: skip
            # Recorded so `relay status` shows why the destination stopped receiving.
            reason = f"gone, unsubscribed from {','.join(topics) or 'nothing'}: {exc.reason}"
            await self.dead_letters.add(update.id, model.encode(update), reason, str(dest))
            await self.progress.count(update.id, update.revision, ok=False)
            return 0.0
        except Moved as exc:
            outcome = "moved"
            await self._move(dest, Destination(dest.platform, exc.new_chat_id, dest.thread_id))
            return 0.0
        except Rejected as exc:
            outcome = "rejected"
            await self._dead(dest, job, update, exc.reason)
            return 0.0
        except RateLimited as exc:
            outcome = "rate_limited"
            budgets = adapter.budgets(dest)
            named = [b for b in budgets if b.key == exc.budget_key] or budgets[-1:]
            for budget in named:
                await self.budgets.pause(budget, exc.retry_after)
            log.info("rate limited dest=%s retry_after=%.2f", dest, exc.retry_after)
            return max(exc.retry_after, 0.001)
        except DeliveryError as exc:
            return await self._failed(dest, job, update, exc.reason)
        else:
            outcome = op.value
        finally:
            DELIVERIES.labels(dest.platform, outcome).inc()
        deleted = op is Op.DELETE
        async with self.client.pipeline(transaction=False) as pipe:
            # One round trip: the ledger first, so a crash here repeats nothing.
            self.ledger.record_in(pipe, update.id, dest, Copy(update.revision, ids, deleted))
            self.queues.reset_attempts_in(pipe, dest, update.id)
            await self.queues.complete(dest, job, client=pipe)
            await self.progress.count(update.id, update.revision, ok=True, client=pipe)
            await pipe.execute()
        log.debug("%s dest=%s update=%s rev=%d", op.value, dest, update.id, update.revision)
        return 0.0

    async def _platform(
        self,
        adapter: Adapter,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        op: Op,
        copy: Copy | None,
    ) -> tuple[str, ...]:
        """The platform call alone (timed), returning the message ids the copy now has."""
        started = time.perf_counter()
        try:
            if op is Op.SEND:
                return await adapter.send(dest, update, topic)
            assert copy is not None
            if op is Op.EDIT:
                return await adapter.edit(dest, update, topic, copy.message_ids)
            await adapter.delete(dest, copy.message_ids)
            return copy.message_ids
        finally:
            CALL_SECONDS.labels(dest.platform, op.value).observe(time.perf_counter() - started)

    async def _done(self, dest: Destination, job: Job, update: Update | None, ok: bool) -> None:
        await self.queues.complete(dest, job)
        if update is not None:
            await self.progress.count(update.id, update.revision, ok=ok)

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
                 dest, job.update_id, attempts, backoff, reason)  # fmt: skip
        return backoff

    async def _move(self, old: Destination, new: Destination) -> None:
        """A Telegram group became a supergroup: re-key subscriptions and queue, resend there."""
        await self.subscriptions.move(old, new)
        pending = await self.queues.positions(old)
        await self.queues.clear(old)
        for update_id, at in pending:
            await self.ledger.move_target(update_id, old, new)
            await self.queues.enqueue([new], update_id, f"moved-{update_id}", at=at)
        log.warning("moved dest=%s to=%s requeued=%d", old, new, len(pending))

    async def _digest(self, dest: Destination, low: int | None) -> float | None:
        """Coalesce the oldest unsent updates of a far-behind destination into one message."""
        scanned = await self.queues.positions(dest, DIGEST_SCAN + 1)
        pending = [u for u, at in scanned[:DIGEST_SCAN] if low is None or at <= low]
        if len(scanned) <= DIGEST_SCAN:
            pending = pending[:-1]  # the whole queue: its newest still goes out in full
        async with self.client.pipeline(transaction=False) as pipe:
            for update_id in pending:
                self.registry.latest_in(pipe, update_id)
                self.ledger.get_in(pipe, update_id, dest)
            raw = await pipe.execute()
        lines: list[Update] = []
        for raw_update, raw_copy in zip(raw[::2], raw[1::2], strict=True):
            try:
                update = self.registry.parse(raw_update)
                copy = parse_copy(raw_copy)
            except (InvalidUpdate, ValueError):
                continue  # dead-lettered when it reaches the head of the queue
            if update is None or update.action is Action.DELETE:
                continue
            if plan(update, copy) is Op.SEND:
                lines.append(update)
            if len(lines) >= DIGEST_LINES:
                break
        adapter = self.adapters.get(dest.platform)
        topic = self.config.topic(lines[0].topic) if lines else None
        if len(lines) < 2 or adapter is None or topic is None:
            return None
        digest = digest_update(lines, self.config)
        wait = await self.budgets.acquire(adapter.budgets(dest), len(adapter.render(digest, topic)))
        if wait > 0:
            return wait
        try:
            ids = await adapter.send(dest, digest, topic)
        except DeliveryError as exc:
            log.info("digest not sent dest=%s reason=%s", dest, exc.reason)
            return None  # serve jobs one by one; their own error handling applies
        async with self.client.pipeline(transaction=False) as pipe:
            for update in lines:
                line = Copy(update.revision, ids, digest=True)
                self.ledger.record_in(pipe, update.id, dest, line)
                await self.progress.count(update.id, update.revision, ok=True, client=pipe)
            await pipe.execute()
        await self.queues.drop(dest, [u.id for u in lines])
        log.info("digest dest=%s updates=%d", dest, len(lines))
        return 0.0


def digest_update(updates: list[Update], config: Config) -> Update:
    """One message standing for several updates a slow destination fell behind on."""
    body = []
    for u in updates:
        topic = config.topic(u.topic)
        title = topic.title if topic else u.topic
        # Titles and headlines are literal text, never Markdown: `[click me](https://…)` in a
        # headline must not become a link in every chat.
        line = f"• {markup.literal(title)}: {markup.literal(u.headline)}"
        target = canonical_url(u.link) if u.link else None
        if target:  # canonical: percent-encoded, so no space or <> ends it early
            line += f" [Read](<{target}>)"
        body.append(line)
    first = updates[0]
    return Update(
        id=f"digest-{first.id}"[:64],
        topic=first.topic,
        headline=f"{len(updates)} more updates",
        body="\n".join(body),
        published_at=updates[-1].published_at,
    )
