"""The last guard of a bot's global limit: counted calls kept apart by when they can arrive.

The budgets (`relay.budgets`) plan each call's moment and the process makes it then; but the
platform counts a call when it *arrives*, and the time from making a call to its arrival
varies: a call that has to open a new connection first (the start of a burst) arrived 80 ms
after it was made, the ones after it on warm connections in 2 ms, and those late first calls
crowded 31 into one of Telegram's seconds (tests/adapters/telegram/test_command_budgets.py). A
margin on the plan covers only a few milliseconds of such spread.

`Arrivals` is exact instead, for one process's calls: a call's arrival lies between the moment
it was made plus half the quickest round trip seen, and the moment its answer came back less
that half. Before a call, the guard waits until the call `limit` places back (counting this
one's messages) is answered and a `period` (less the quickest round trip) has passed since,
so no `period` can see more than `limit` of this process's calls arrive, whatever each one's
delay. On warm connections that costs nothing: the call `limit` back went a period ago.
Sharing a bot's limit between processes stays the budgets' work (their margin).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

ROUND_TRIPS = 64  # the quickest of this many recent round trips is "the quickest seen"
NEVER_ANSWERED = 5.0  # s: a call unanswered this long stops holding others (it timed out)


class _Call:
    __slots__ = ("answered", "made", "settled")

    def __init__(self, made: float) -> None:
        self.made = made
        self.answered: float | None = None
        self.settled = asyncio.Event()


class Arrivals:
    """At most `limit` calls arriving in any `period` seconds, by what this process can know."""

    def __init__(
        self, limit: int, period: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.period = period
        self.clock = clock
        self._calls: deque[_Call] = deque(maxlen=limit)  # one entry per message counted
        self._trips: deque[float] = deque(maxlen=ROUND_TRIPS)
        self._lock = asyncio.Lock()  # calls take their places in the order they ask

    @property
    def quickest(self) -> float:
        """The quickest round trip seen lately (0 before any: the cautious guess)."""
        return min(self._trips, default=0.0)

    def _holder(self, count: int) -> _Call | None:
        """The call whose arrival this one's `count` messages must come a period after: the
        one `limit` places before the last of them (the latest kept, for an album past the
        limit), or None while fewer than that were made."""
        at = len(self._calls) + count - 1 - self.limit
        if at < 0 or not self._calls:
            return None
        return self._calls[min(at, len(self._calls) - 1)]

    async def _wait_turn(self, count: int) -> None:
        while (holder := self._holder(count)) is not None:
            if holder.answered is None:
                left = holder.made + NEVER_ANSWERED - self.clock()
                if left <= 0:
                    return
                try:  # the holder is still in flight: its answer bounds its arrival
                    await asyncio.wait_for(holder.settled.wait(), left)
                except TimeoutError:
                    return
                continue
            wait = holder.answered + self.period - self.quickest - self.clock()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    @asynccontextmanager
    async def call(self, count: int = 1) -> AsyncIterator[None]:
        """Wait for the turn of a call of `count` messages; the body makes the call."""
        async with self._lock:
            await self._wait_turn(count)
            calls = [_Call(self.clock()) for _ in range(max(1, count))]
            self._calls.extend(calls)
        try:
            yield
        finally:
            answered = self.clock()
            self._trips.append(answered - calls[0].made)
            for c in calls:
                c.answered = answered
                c.settled.set()
