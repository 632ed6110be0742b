"""Transcript events (sent, edited, deleted, pinned) for live views and tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from relay_sandbox.telegram.render import DisplayedMessage

EventKind = Literal[
    "message_sent", "message_edited", "message_deleted", "message_pinned", "message_unpinned"
]


@dataclass(frozen=True)
class SandboxEvent:
    """A change in a chat's transcript, with the message as now displayed."""

    kind: EventKind
    chat_id: int
    message: DisplayedMessage
    at: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the demo streams these as server-sent events)."""
        return {
            "kind": self.kind,
            "chat_id": self.chat_id,
            "at": self.at,
            "message": self.message.to_dict(),
        }


class EventStream:
    """An async iterator of events, subscribed from the moment it is created."""

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[SandboxEvent | None] = asyncio.Queue()
        hub._streams.add(self)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> SandboxEvent:
        item = await self._queue.get()
        if item is None:
            self.close()
            raise StopAsyncIteration
        return item

    def put(self, item: SandboxEvent | None) -> None:
        """Deliver an event (None ends the stream)."""
        self._queue.put_nowait(item)

    def close(self) -> None:
        """Stop receiving events."""
        self._hub._streams.discard(self)

    async def aclose(self) -> None:
        """Async alias of ``close``."""
        self.close()


class EventHub:
    """Fans each event out to every open stream and callback."""

    def __init__(self) -> None:
        self._streams: set[EventStream] = set()
        self._callbacks: list[Callable[[SandboxEvent], None]] = []
        self.closed = False

    def stream(self) -> EventStream:
        """A new subscription."""
        stream = EventStream(self)
        if self.closed:
            stream.put(None)
        return stream

    def subscribe(self, callback: Callable[[SandboxEvent], None]) -> Callable[[], None]:
        """Call ``callback`` for each event; returns the unsubscribe function."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    @property
    def listening(self) -> bool:
        """Someone would receive an event (building one is skipped otherwise)."""
        return bool(self._streams or self._callbacks)

    def publish(self, event: SandboxEvent) -> None:
        """Deliver one event everywhere."""
        for stream in list(self._streams):
            stream.put(event)
        for callback in list(self._callbacks):
            callback(event)

    def close(self) -> None:
        """End every stream."""
        self.closed = True
        for stream in list(self._streams):
            stream.put(None)
