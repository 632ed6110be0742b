"""Per-bot update queues served by getUpdates, with long polling and the 409 conflict."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from relay_sandbox.telegram.errors import CONFLICT_POLL, ApiError
from relay_sandbox.telegram.records import Json

log = logging.getLogger(__name__)

#: Update kinds the sandbox can produce.
UPDATE_KINDS = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "my_chat_member",
        "chat_member",
        "message_reaction",
        "message_reaction_count",
    }
)
#: The spec: by default every kind except chat_member and the message_reaction* ones.
DEFAULT_ALLOWED = UPDATE_KINDS - {"chat_member", "message_reaction", "message_reaction_count"}


@dataclass
class _Waiter:
    event: asyncio.Event = field(default_factory=asyncio.Event)
    terminated: bool = False


class UpdateQueue:
    """One bot's pending updates; ``poll`` is getUpdates."""

    def __init__(self) -> None:
        self.allowed: frozenset[str] = DEFAULT_ALLOWED
        self._pending: list[Json] = []
        self._next_id = 1
        self._waiter: _Waiter | None = None
        self._closed = False

    @property
    def pending(self) -> tuple[Json, ...]:
        """Updates not yet confirmed."""
        return tuple(self._pending)

    @property
    def closed(self) -> bool:
        """The server is stopping."""
        return self._closed

    @property
    def polling(self) -> bool:
        """A long poll is waiting right now."""
        return self._waiter is not None

    def push(self, kind: str, payload: Json) -> int | None:
        """Queue an update unless the bot's allowed_updates exclude it; its id or None."""
        if kind not in self.allowed:
            return None
        update_id = self._next_id
        self._next_id += 1
        self._pending.append({"update_id": update_id, kind: payload})
        if self._waiter is not None:
            self._waiter.event.set()
        return update_id

    def drop_pending(self) -> None:
        """Forget every pending update (deleteWebhook drop_pending_updates)."""
        self._pending.clear()

    def close(self) -> None:
        """Release any long poll: the server is stopping."""
        self._closed = True
        if self._waiter is not None:
            self._waiter.event.set()

    async def poll(
        self,
        *,
        offset: int | None = None,
        limit: int = 100,
        timeout: float = 0,  # noqa: ASYNC109 - getUpdates' own parameter
        allowed_updates: list[str] | None = None,
    ) -> list[Json]:
        """Confirm updates below ``offset``, then return up to ``limit``, waiting ``timeout``."""
        if allowed_updates is not None:
            # An empty list means "the default"; the choice persists between calls.
            self.allowed = frozenset(allowed_updates) & UPDATE_KINDS or DEFAULT_ALLOWED
        self.confirm(offset)
        limit = min(max(limit, 1), 100)
        previous = self._waiter
        if previous is not None:
            # The real server fails the older request when a newer one arrives.
            previous.terminated = True
            previous.event.set()
            self._waiter = None
        if self._pending or timeout <= 0 or self._closed:
            return self._pending[:limit]
        waiter = _Waiter()
        self._waiter = waiter
        try:
            await asyncio.wait_for(waiter.event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            if self._waiter is waiter:
                self._waiter = None
        if waiter.terminated:
            raise ApiError(409, CONFLICT_POLL)
        return self._pending[:limit]

    def confirm(self, offset: int | None) -> None:
        """Forget updates below ``offset`` (negative: keep only the last ``-offset``)."""
        if offset is None or offset == 0:
            return
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
