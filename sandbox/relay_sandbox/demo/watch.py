"""Follows every accepted update (from any editor) and its delivery progress, for the page."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis

from relay import model
from relay.errors import InvalidUpdate
from relay.keys import Keys, as_str
from relay.ledger import Progress, read_progress
from relay_sandbox.demo.feed import Feed

log = logging.getLogger(__name__)


def update_event(update: model.Update) -> dict[str, Any]:
    return {
        "type": "update", "id": update.id, "topic": update.topic, "headline": update.headline,
        "action": update.action.value, "revision": update.revision,
        "update": model.to_dict(update),
    }  # fmt: skip


def progress_event(update_id: str, p: Progress) -> dict[str, Any]:
    return {
        "type": "progress", "id": update_id,
        "progress": {"revision": p.revision, "total": p.total, "delivered": p.delivered,
                     "failed": p.failed, "done": p.done, "summary": p.summary()},
    }  # fmt: skip


class Watch:
    """Reads the updates stream (plain XREAD: no consumer group, so it takes nothing from the
    dispatchers) and polls the progress of each update until its latest revision is done."""

    def __init__(self, client: aioredis.Redis, keys: Keys, feed: Feed, interval: float = 0.2):
        self.client = client
        self.keys = keys
        self.feed = feed
        self.interval = interval
        self._revisions: dict[str, int] = {}  # updates still being delivered → their revision
        self._shown: dict[str, Progress] = {}

    async def run(self, stop: asyncio.Event) -> None:
        last = "0-0"
        while not stop.is_set():
            raw: Any = await self.client.xread(
                {self.keys.updates: last}, count=100, block=int(self.interval * 1000)
            )
            for _key, entries in raw or []:
                for entry_id, fields in entries:
                    last = as_str(entry_id)
                    self._accepted(fields)
            await self._poll()

    def _accepted(self, fields: dict[Any, Any]) -> None:
        payload = fields.get(b"update", fields.get("update"))
        if payload is None:
            return
        try:
            update = model.decode(payload)
        except InvalidUpdate:
            log.warning("unreadable stream entry skipped")
            return
        self._revisions[update.id] = update.revision
        self.feed.publish(update_event(update))

    async def _poll(self) -> None:
        for update_id, revision in list(self._revisions.items()):
            progress = await read_progress(self.client, self.keys, update_id)
            if progress is None or progress.revision < revision:
                continue  # the dispatcher has not started this revision yet
            if progress != self._shown.get(update_id):
                self._shown[update_id] = progress
                self.feed.publish(progress_event(update_id, progress))
            if progress.done:
                del self._revisions[update_id]
