"""The last guard of a bot's global limit: counted calls kept apart by when they can arrive.

The budgets (`relay.budgets`) plan each call's moment and the process makes it then; but the
platform counts a call when it *arrives*, and the time from making a call to its arrival
varies: a call that has to open a new connection first (the start of a burst) arrived 80 ms
after it was made, the ones after it on warm connections in 2 ms, and those late first calls
crowded 31 into one of Telegram's seconds (tests/adapters/telegram/test_command_budgets.py). A
margin on the plan covers only a few milliseconds of such spread.

`Arrivals` is exact instead, for one process's calls: a call arrives after it was made and
before its answer comes back. Before a call, the guard waits until every call `limit` or more
places back (counting this one's messages) is answered and a `period` has passed since the
latest of those answers: then no `period` can see more than `limit` of this process's calls
arrive, whatever each one's delay and in whatever order they arrive. The price is a round trip
per `limit` calls while the bot sends at its full rate (the budgets plan 30 calls in 1.03 s;
with a 50 ms round trip they then go in 1.05 s), and nothing below it. (Crediting half the
quickest round trip to each way was tried: a call whose way out was quicker than that broke
the bound in tests/test_arrivals.py.) Sharing a bot's limit between processes stays the
budgets' work (their margin).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

NEVER_ANSWERED = 5.0  # s: a call unanswered this long stops holding others (it timed out)


class _Call:
    """One call: its first place in the order calls were made (an album takes one per
    message), when it was made, and when its answer came back."""

    __slots__ = ("answered", "first", "made", "settled")

    def __init__(self, first: int, made: float) -> None:
        self.first = first
        self.made = made
        self.answered: float | None = None
        self.settled = asyncio.Event()


class Arrivals:
    """At most `limit` calls arriving in any `period` seconds, by what this process can know.

    Calls arrive in any order (a slow one made first may arrive after quick ones made later),
    so a call waits for *every* call at least `limit` places before it, not only the one
    exactly there: each must be answered, the latest answer a period ago.
    """

    def __init__(
        self,
        limit: int,
        period: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        held: Callable[[float], object] | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.period = period
        self.clock = clock
        self.held = held  # told the seconds each call was held (a metric's `inc`)
        self._made = 0  # places taken so far (messages counted)
        self._calls: deque[_Call] = deque()  # in the order made; those that may still matter
        self._lock = asyncio.Lock()  # calls take their places in the order they ask

    def _prune(self, now: float) -> None:
        """Drop the oldest calls whose answer came back over a period ago: no later call can
        arrive within a period of them."""
        calls = self._calls
        while calls and calls[0].answered is not None and calls[0].answered + self.period <= now:
            calls.popleft()

    async def _wait_turn(self, count: int) -> float:
        """Wait until the calls `limit` or more places before this one's last message can no
        longer arrive within a period of it (for an album past the limit: every call before);
        the seconds it waited (0 when it did not)."""
        cutoff = min(self._made - 1, self._made + count - 1 - self.limit)
        asked = self.clock()
        waited = False
        while True:
            now = self.clock()
            self._prune(now)
            behind = [c for c in self._calls if c.first <= cutoff]
            flying = [c for c in behind if c.answered is None and now - c.made < NEVER_ANSWERED]
            if flying:  # still in flight: its answer bounds its arrival
                waited, oldest = True, flying[0]
                with suppress(TimeoutError):
                    await asyncio.wait_for(
                        oldest.settled.wait(), oldest.made + NEVER_ANSWERED - now
                    )
                continue
            latest = max((c.answered for c in behind if c.answered is not None), default=None)
            wait = 0.0 if latest is None else latest + self.period - now
            if wait <= 0:
                return now - asked if waited else 0.0
            waited = True
            await asyncio.sleep(wait)

    @asynccontextmanager
    async def call(self, count: int = 1) -> AsyncIterator[None]:
        """Wait for the turn of a call of `count` messages; the body makes the call."""
        count = max(1, count)
        async with self._lock:
            waited = await self._wait_turn(count)
            if self.held is not None and waited > 0:
                self.held(waited)
            call = _Call(self._made, self.clock())
            self._made += count
            self._calls.append(call)
        try:
            yield
        finally:
            call.answered = self.clock()
            call.settled.set()
