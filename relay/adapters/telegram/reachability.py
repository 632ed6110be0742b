"""How the Bot API last answered (for /readyz), noted by PTB's HTTP transports: `Recorded`
(httpx, for getUpdates) and `RecordedAiohttp` (aiohttp, for every other call)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from telegram.request import HTTPXRequest

from relay import logs
from relay.adapters.telegram.request import AiohttpRequest
from relay.health import Health


class Reachability:
    """When the Bot API last answered well, and the last error.

    Well: 200 for `getUpdates` (`strict`: a 409 means the poller gets nothing); for other calls
    any answer but 401 and 5xx (a 403 from a chat that blocked the bot says the API is there).
    A call that fails after the last success makes `health` down at once, and so does a
    success older than `fresh` seconds.
    """

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self.ok_at: float | None = None
        self.error: str | None = None

    async def watch(self, call: Awaitable[tuple[int, bytes]]) -> tuple[int, bytes]:
        """Await one transport call, noting how it went."""
        try:
            code, payload = await call
        except Exception as exc:
            self.error = logs.mask(f"{type(exc).__name__}: {exc}".rstrip(": "))
            raise
        if code == 200 or not (self.strict or code == 401 or code >= 500):
            self.ok_at, self.error = time.monotonic(), None
        else:
            self.error = f"HTTP {code}"
        return code, payload

    def age(self) -> float | None:
        """Seconds since the last success (None: never)."""
        return None if self.ok_at is None else time.monotonic() - self.ok_at

    def health(self, fresh: float, **detail: Any) -> Health:
        age = self.age()
        up = self.error is None and age is not None and age <= fresh
        info: dict[str, Any] = {**detail, "last_ok_age": None if age is None else round(age, 1)}
        if self.error is not None:
            info["error"] = self.error
        return Health(up, info)


class Recorded(HTTPXRequest):
    """An `HTTPXRequest` whose calls `seen` notes."""

    def __init__(self, *, strict: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen = Reachability(strict=strict)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        return await self.seen.watch(super().do_request(*args, **kwargs))


class RecordedAiohttp(AiohttpRequest):
    """An `AiohttpRequest` whose calls `seen` notes."""

    def __init__(self, pool_size: int, *, strict: bool, **kwargs: Any) -> None:
        super().__init__(pool_size, **kwargs)
        self.seen = Reachability(strict=strict)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        return await self.seen.watch(super().do_request(*args, **kwargs))
