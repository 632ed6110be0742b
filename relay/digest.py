"""Digests: one message for the oldest unsent updates of a destination that fell far behind.

When a destination's queue holds more than `dispatcher.digest_threshold` jobs (a group held to
20 messages a minute during a flood), its oldest unsent updates go out as one message of
headlines, each recorded in the ledger as delivered in a digest (later edits skip it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.asyncio as aioredis

from relay import markup
from relay.adapter import Fleet
from relay.budgets import Budgets, Renew, Slots
from relay.chat_settings import NONE, DestinationSettings
from relay.config import Config
from relay.errors import DeliveryError, InvalidUpdate
from relay.ledger import Copy, Ledger, ProgressBook, parse_copy
from relay.links import canonical_url
from relay.model import Action, Destination, Update
from relay.plan import Op, plan
from relay.queues import Queues
from relay.registry import Registry
from relay.subscriptions import Subscriptions

log = logging.getLogger(__name__)
DIGEST_LINES = 20
# Queued jobs a digest looks at: enough to find its lines past deleted and already sent ones,
# few enough that a queue of thousands costs the same as a short one.
DIGEST_SCAN = 4 * DIGEST_LINES


@dataclass
class Digester:
    """Sends digests for the sender (`relay.sync.Syncer`)."""

    client: aioredis.Redis
    config: Config
    adapters: Fleet
    registry: Registry
    queues: Queues
    ledger: Ledger
    progress: ProgressBook
    budgets: Budgets
    subscriptions: Subscriptions

    async def send(
        self,
        dest: Destination,
        low: int | None,
        renew: Renew | None = None,
        settings: DestinationSettings = NONE,
    ) -> float | None:
        """Coalesce the oldest unsent updates of a far-behind destination into one message.

        The lines stop at the first update of a topic the chat wants in full (`digest` off in
        its settings), so updates still arrive in order; one it does not want at all (breaking
        only) is no line.
        """
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
            chosen = settings.of(update.topic)
            if plan(update, copy) is Op.SEND:
                if chosen.skips(update.breaking):
                    continue
                if not chosen.digest:
                    break
                lines.append(update)
            if len(lines) >= DIGEST_LINES:
                break
        if len(lines) < 2:
            return None
        # The bound bot sends it: a digest is a new copy of each of its lines.
        adapter = self.adapters.pick(dest.platform, await self.subscriptions.bot(dest))
        topic = self.config.topic(lines[0].topic)
        if adapter is None or topic is None:
            return None
        topic = settings.of(topic.slug).apply(topic)  # silent, previews: as the chat wants
        digest = digest_update(lines, self.config)
        budgets = adapter.budgets(dest)
        slots = await self.budgets.reserve(budgets, len(adapter.render(digest, topic)))
        if not isinstance(slots, Slots):
            return slots
        try:
            pace = self.budgets.pace(budgets, slots, renew)
            ids = await adapter.send(dest, digest, topic, pace=pace)
        except DeliveryError as exc:
            log.info("digest not sent dest=%s reason=%s", dest, exc.reason)
            return None  # serve jobs one by one; their own error handling applies
        async with self.client.pipeline(transaction=False) as pipe:
            for update in lines:
                line = Copy(update.revision, ids, digest=True, bot=adapter.bot_name)
                self.ledger.record_in(pipe, update.id, dest, line)
                await self.progress.count(update.id, update.revision, dest, ok=True, client=pipe)
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
