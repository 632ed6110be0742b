"""Telegram's flood limits per bot: global, per chat, per group, and paid broadcast."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from relay_sandbox.telegram.errors import too_many_requests

Clock = Callable[[], float]


@dataclass(frozen=True)
class TelegramLimits:
    """The Bot FAQ's numbers (platforms.md §1.4).

    Every message counts: an album counts as its items (admitted while one slot is free,
    then the chat waits). Edits count too when ``count_edits`` (Telegram limits edits as
    well, undocumented); deletes, pins and reads never do.
    """

    enabled: bool = True
    global_per_second: int = 30
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    group_per_minute: int = 20
    paid_per_second: int = 1000
    count_edits: bool = True

    @classmethod
    def off(cls) -> TelegramLimits:
        """No flood limits at all: for capacity benchmarks."""
        return cls(enabled=False)


class _Window:
    """At most ``limit`` events in any ``period`` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.period:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        # An album may have overfilled the window: wait until it is below the limit again.
        return self.times[len(self.times) - self.limit] + self.period - now

    def take(self, now: float, n: int) -> None:
        self.times.extend([now] * n)


class _Bucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.last = now

    def wait(self, now: float) -> float:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float, n: int) -> None:
        self.tokens -= n


class FloodLimiter:
    """Counts sends per bot and refuses with 429 ``retry after N`` past a limit."""

    def __init__(self, limits: TelegramLimits | None = None, clock: Clock = time.monotonic) -> None:
        self.limits = limits or TelegramLimits()
        self.clock = clock
        self._global: dict[int, _Window] = {}
        self._paid: dict[int, _Window] = {}
        self._groups: dict[tuple[int, int], _Window] = {}
        self._chats: dict[tuple[int, int], _Bucket] = {}

    def configure(self, limits: TelegramLimits) -> None:
        """Switch to new limits, forgetting what was counted."""
        self.limits = limits
        self._global.clear()
        self._paid.clear()
        self._groups.clear()
        self._chats.clear()

    def check(
        self, bot_id: int, chat_id: int, chat_type: str, *, paid: bool = False, count: int = 1
    ) -> None:
        """Count ``count`` messages, or raise 429 without counting them."""
        lim = self.limits
        if not lim.enabled:
            return
        now = self.clock()
        if paid:
            window = self._paid.setdefault(bot_id, _Window(lim.paid_per_second, 1.0))
            self._admit(now, [window], count)
            return
        gates: list[_Window | _Bucket] = [
            self._global.setdefault(bot_id, _Window(lim.global_per_second, 1.0)),
        ]
        key = (bot_id, chat_id)
        if key not in self._chats:
            self._chats[key] = _Bucket(lim.per_chat_per_second, lim.per_chat_burst, now)
        gates.append(self._chats[key])
        if chat_type != "private":
            gates.append(self._groups.setdefault(key, _Window(lim.group_per_minute, 60.0)))
        self._admit(now, gates, count)

    @staticmethod
    def _admit(now: float, gates: list[_Window | _Bucket] | list[_Window], count: int) -> None:
        wait = max(gate.wait(now) for gate in gates)
        if wait > 0:
            raise too_many_requests(wait)
        for gate in gates:
            gate.take(now, count)
