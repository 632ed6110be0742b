"""The memory adapter's harness: its records are the chat, its failure switches the platform."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from relay.adapter import Budget
from relay.adapters.memory import MemoryAdapter
from relay.errors import Gone, Moved, RateLimited, Rejected, Transient
from relay.model import Destination
from tests.adapters.contract import IDEMPOTENT_SEND, MOVED, RETRY_AFTER, Fault, Harness, Op, Shown

PHOTO_LINE = re.compile(r"Photo: (\S+)")


def budgets(dest: Destination) -> tuple[Budget, ...]:
    """Budgets shaped like a platform's: the bot's, then the chat's."""
    return Budget("memory:bot:global", 30.0), Budget(f"memory:bot:chat:{dest.chat_id}", 1.0)


class MemoryHarness(Harness):
    """`MemoryAdapter` with platform-like budgets; faults through its own switches."""

    name = "memory"
    capabilities: ClassVar[frozenset[str]] = frozenset({MOVED})
    lacks: ClassVar[Mapping[str, str]] = {
        IDEMPOTENT_SEND: "no idempotency key, as on Telegram: a send retried after a lost "
        "answer is a second copy",
    }

    def __init__(self) -> None:
        self.adapter = self.memory = MemoryAdapter(budgets=budgets)
        self._chats = itertools.count(1)

    @classmethod
    @asynccontextmanager
    async def running(cls, **_: Any) -> AsyncIterator[MemoryHarness]:
        yield cls()

    async def destination(self) -> Destination:
        return Destination("memory", f"chat-{next(self._chats)}")

    async def gone(self) -> list[tuple[str, Destination]]:
        dest = await self.destination()
        self.memory.fail_always(dest, Gone("Forbidden: bot was blocked by the user"))
        return [("blocked", dest)]

    async def moved(self) -> tuple[Destination, Destination]:
        old, new = await self.destination(), await self.destination()
        self.memory.fail_always(old, Moved(new.chat_id, "group upgraded to a supergroup"))
        return old, new

    def inject(self, fault: Fault, op: Op, dest: Destination) -> None:
        if fault == "rate_limited":
            key = budgets(dest)[-1].key
            self.memory.fail_next(dest, RateLimited(RETRY_AFTER, budget_key=key))
        elif fault == "rejected":
            self.memory.fail_next(dest, Rejected(self.rejection(op)))
        else:
            self.memory.fail_next(dest, Transient(f"{fault} on {op}"))

    def rejection(self, op: Op) -> str:
        return f"the platform refused the {op}"

    def heal(self) -> None:
        """Nothing to undo: `fail_next` fails one call and is used up by it."""

    def lose_next_answer(self, dest: Destination) -> None:
        self.memory.lose_next_answer(dest)

    def shown(self, dest: Destination) -> list[Shown]:
        return [Shown(mid, text) for mid, text in self.memory.messages[dest].items()]

    def photos(self, dest: Destination) -> list[str]:
        # Parts are cut anywhere: read the copy whole.
        return PHOTO_LINE.findall("".join(self.memory.texts(dest)))

    def check_part(self, part: Any) -> None:
        assert isinstance(part, str) and 0 < len(part) <= self.memory.max_part

    def activity(self) -> int:
        return len(self.memory.calls)
