"""`MemoryAdapter`: keeps every copy in memory; the test double for everything above adapters."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from relay.adapter import Adapter, Budget, Pace, no_pace
from relay.adapters.text import plain_text
from relay.config import TopicConfig
from relay.errors import DeliveryError, Rejected, Transient
from relay.model import Destination, Update


@dataclass(frozen=True)
class Call:
    """One adapter call as the dispatcher made it."""

    op: str
    dest: Destination
    update_id: str
    revision: int
    message_ids: tuple[str, ...]


class MemoryAdapter(Adapter):
    """Renders to plain text, stores messages per destination, and can be told to fail.

    Failures, as a platform gives them: `fail_next` (the next calls fail), `fail_always` (a
    destination gone or moved for good), `lose_next_answer` (the call takes effect, its answer
    is lost), `fail_part` (one part of a multi-part send fails after the parts before it went
    out). `part_times` holds when each part was sent or edited, to check the pacing. Like
    Telegram it has no idempotency key: a send retried after a lost answer is a second copy.
    An injected error without context gets the call's platform, destination and update id, as
    the real adapters give them.
    """

    def __init__(
        self,
        platform: str = "memory",
        max_part: int = 4000,
        budgets: Callable[[Destination], tuple[Budget, ...]] | None = None,
    ) -> None:
        self.platform = platform
        self.max_part = max_part
        self._budgets = budgets
        self.calls: list[Call] = []
        self.messages: dict[Destination, dict[str, str]] = defaultdict(dict)
        self._ids = itertools.count(1)
        self._failures: dict[Destination, list[DeliveryError]] = defaultdict(list)
        self._broken: dict[Destination, DeliveryError] = {}
        self._lost: dict[Destination, int] = defaultdict(int)
        self._part_failures: dict[Destination, list[tuple[int, DeliveryError]]] = defaultdict(list)
        self.part_times: dict[Destination, list[float]] = defaultdict(list)
        self.delivered = asyncio.Condition()

    def budgets(self, dest: Destination) -> tuple[Budget, ...]:
        return self._budgets(dest) if self._budgets is not None else ()

    def fail_next(self, dest: Destination, *errors: DeliveryError) -> None:
        """Make the next calls for `dest` raise `errors`, in order."""
        self._failures[dest].extend(errors)

    def fail_always(self, dest: Destination, error: DeliveryError) -> None:
        """Make every later call for `dest` raise `error` (e.g. `Gone`, `Moved`)."""
        self._broken[dest] = error

    def lose_next_answer(self, dest: Destination, count: int = 1) -> None:
        """Let the next `count` calls for `dest` take effect, then raise `Transient`."""
        self._lost[dest] += count

    def fail_part(self, dest: Destination, part: int, error: DeliveryError) -> None:
        """Make the next send to `dest` fail at part `part` (0-based), after the parts before."""
        self._part_failures[dest].append((part, error))

    def render(self, update: Update, topic: TopicConfig) -> Sequence[str]:
        text = plain_text(update, topic)
        return [text[i : i + self.max_part] for i in range(0, len(text), self.max_part)] or [""]

    def _maybe_fail(self, dest: Destination, update_id: str = "") -> None:
        error = self._broken.get(dest)
        if error is None and self._failures[dest]:
            error = self._failures[dest].pop(0)
        if error is not None:
            raise self._in_context(error, dest, update_id)

    def _in_context(self, error: DeliveryError, dest: Destination, update_id: str) -> DeliveryError:
        # The layers above log and key on these; a test double must fill them as adapters do.
        error.platform = error.platform or self.platform
        error.destination = error.destination or str(dest)
        error.update_id = error.update_id or update_id
        return error

    def _maybe_lose_answer(self, dest: Destination, update_id: str = "") -> None:
        if self._lost[dest]:
            self._lost[dest] -= 1
            raise self._in_context(Transient("connection lost before the answer"), dest, update_id)

    async def _notify(self) -> None:
        async with self.delivered:
            self.delivered.notify_all()

    async def _part(self, dest: Destination, pace: Pace, message_id: str, text: str) -> None:
        await pace()
        self.part_times[dest].append(time.monotonic())
        self.messages[dest][message_id] = text

    async def send(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        *,
        pace: Pace = no_pace,
        sent: tuple[str, ...] = (),
    ) -> tuple[str, ...]:
        self._maybe_fail(dest, update.id)
        ids = list(sent)
        fail_at = self._part_failures[dest].pop(0) if self._part_failures[dest] else None
        for i, part in enumerate(self.render(update, topic)):
            if i < len(sent):
                continue
            if fail_at is not None and fail_at[0] == i:
                error = self._in_context(fail_at[1], dest, update.id)
                error.sent = tuple(ids)
                raise error
            message_id = str(next(self._ids))
            await self._part(dest, pace, message_id, part)
            ids.append(message_id)
        self.calls.append(Call("send", dest, update.id, update.revision, tuple(ids)))
        await self._notify()
        self._maybe_lose_answer(dest, update.id)
        return tuple(ids)

    async def edit(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        message_ids: tuple[str, ...],
        *,
        pace: Pace = no_pace,
    ) -> tuple[str, ...]:
        self._maybe_fail(dest, update.id)
        parts = list(self.render(update, topic))
        ids = list(message_ids[: len(parts)])
        for message_id in message_ids[len(parts) :]:
            self.messages[dest].pop(message_id, None)
        for i, part in enumerate(parts):
            if i >= len(ids):
                ids.append(str(next(self._ids)))
            elif ids[i] not in self.messages[dest]:
                error = Rejected(f"message {ids[i]} not found", destination=str(dest))
                raise self._in_context(error, dest, update.id)
            await self._part(dest, pace, ids[i], part)
        self.calls.append(Call("edit", dest, update.id, update.revision, tuple(ids)))
        await self._notify()
        self._maybe_lose_answer(dest, update.id)
        return tuple(ids)

    async def delete(self, dest: Destination, message_ids: tuple[str, ...]) -> None:
        self._maybe_fail(dest)
        for message_id in message_ids:
            self.messages[dest].pop(message_id, None)
        self.calls.append(Call("delete", dest, "", 0, message_ids))
        await self._notify()
        self._maybe_lose_answer(dest)

    def texts(self, dest: Destination) -> list[str]:
        """What `dest` currently displays, oldest first."""
        return list(self.messages[dest].values())

    async def wait_for(self, count: int, op: str | None = None, within: float = 10.0) -> None:
        """Wait until at least `count` calls (of `op`, if given) were made."""

        def done() -> bool:
            return sum(1 for c in self.calls if op is None or c.op == op) >= count

        async with asyncio.timeout(within):
            async with self.delivered:
                await self.delivered.wait_for(done)
