"""The dead-letter stream: stream entries and deliveries given up on, each with the reason."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from relay.keys import Keys, as_str, as_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    """An entry or a delivery given up on, with the reason."""

    id: str
    source_id: str
    reason: str
    payload: str
    destination: str
    failed_at: float


def _fields(source_id: str, payload: str, reason: str, destination: str) -> dict[Any, Any]:
    """The fields of one dead letter: what failed, why, where, and when."""
    return {
        "source_id": source_id,
        "reason": reason,
        "payload": payload,
        "destination": destination,
        "failed_at": f"{time.time():.3f}",
    }


def _letter(entry_id: Any, raw: Any) -> DeadLetter:
    # Dead letters hold what could not be read: listing them must never fail on their bytes.
    f = {as_text(k): as_text(v) for k, v in (raw or {}).items()}
    return DeadLetter(
        id=as_str(entry_id),
        source_id=f.get("source_id", ""),
        reason=f.get("reason", ""),
        payload=f.get("payload", ""),
        destination=f.get("destination", ""),
        failed_at=_seconds(f.get("failed_at", "")),
    )


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


class DeadLetters:
    """Adds, lists and removes dead letters."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def add_in(
        self, pipe: Any, source_id: str, payload: str, reason: str, destination: str = ""
    ) -> None:
        """Queue one dead letter on `pipe` (a stream entry's goes with its XACK, in MULTI)."""
        pipe.xadd(self.keys.dead_letters, _fields(source_id, payload, reason, destination))

    async def add(self, source_id: str, payload: str, reason: str, destination: str) -> None:
        """Record one failed delivery (an update id and its JSON) with the reason."""
        await self.client.xadd(
            self.keys.dead_letters, _fields(source_id, payload, reason, destination)
        )
        log.warning("dead letter update=%s dest=%s reason=%s", source_id, destination, reason)

    async def recent(self, count: int = 100) -> list[DeadLetter]:
        """The newest dead letters first."""
        raw = await self.client.xrevrange(self.keys.dead_letters, count=count)
        return [_letter(entry_id, fields) for entry_id, fields in raw or []]

    async def remove(self, letter_id: str) -> None:
        await self.client.xdel(self.keys.dead_letters, letter_id)

    def count_in(self, pipe: Any) -> None:
        """Queue the count of dead letters on `pipe` (its result is an int)."""
        pipe.xlen(self.keys.dead_letters)

    async def count(self) -> int:
        return int(await self.client.xlen(self.keys.dead_letters))


async def list_dead_letters(
    client: aioredis.Redis, keys: Keys, count: int = 100
) -> list[DeadLetter]:
    """The newest dead letters first (for `relay dead-letters list`)."""
    return await DeadLetters(client, keys).recent(count)
