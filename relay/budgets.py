"""Rate budgets shared by every worker, in one Lua script on the Redis server's clock.

A send spends from several budgets at once (Telegram: the bot's global 30/s, and the chat's 1/s
or the group's 20 in any minute). The script (`relay.budget_lua`) checks them all and spends
from all or none, so a send that one budget refuses costs nothing from the others. A rate
budget stores one number, its theoretical arrival time (GCRA; the burst tolerance lets `burst`
sends through at once); a windows budget the times of its recent sends. All keys of one bot
share a hash tag, so the script runs on Redis Cluster too.

A copy of several parts is admitted whole: one script call reserves a slot for every part, the
first one now, the others as soon as every budget allows (a chat's burst lets three go at
once, a fourth waits its second). The sender then makes each call at its slot (`Pace`), so the
parts never outrun the platform's own count, and nothing a later send needs is spent twice.
A reply to a command queues instead of being refused (`wait_turn`): it takes the next free slot
and waits for it, so readers' answers share the bot's budget with deliveries and never 429.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from relay.budget_lua import SCRIPT
from relay.keys import Keys
from relay.metrics import LATE_CALLS
from relay.scripts import Script

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    """A rate limit a delivery spends from: `rate` sends per `per` seconds, `burst` at once.

    Budgets live in Redis and are shared by every worker using the same bot, so `key` names the
    bot and the scope, e.g. `telegram:123456:chat:-100777` or `discord:app9:global`. Every key
    of one bot must share the bot's prefix (`platform:bot`): it becomes the Redis hash tag.

    `margin` makes each slot that much longer than the rate allows (see `MARGIN`); a budget that
    every worker's calls share (the bot's global one) needs more than a chat's.
    """

    key: str
    rate: float
    per: float = 1.0
    burst: int = 1
    margin: float = 0.05  # MARGIN
    # Sliding windows (limit, seconds) instead of a rate: a burst goes as far as every window
    # allows (`relay.budget_lua`). `rate`/`per` then give its long-run rate, for the record.
    windows: tuple[tuple[int, float], ...] = ()


# Why slots are longer than the platform's rate (`Budget.margin`): a request reaches the
# platform some milliseconds after the relay makes it, more under load, and unevenly: late ones
# followed by prompt ones crowd into one window of the platform's count. A margin m keeps m
# seconds of such jitter clear in any one-second window, at the cost of m of the fill. A call
# that wakes later than half of that after its slot takes a new slot (`late_after`), so the
# margin only has to cover the network. Measured with bench/real (900 private chats with 1 and
# 3 workers, 1,500 Discord channels with 3, sandbox and Valkey on the same 2 cores): 3% gave
# 0 x 429 and a fill of 0.97 (docs/benchmarks.md); without the late-call guard, 5% still let
# 30 requests into one second in tests/test_busy_hour.py.
MARGIN = 0.05  # a destination's own budget
SHARED_MARGIN = 0.03  # a budget every worker's calls share
# Telegram's 30/s (not paid broadcast): at 3%, two workers' arrivals still crowded 31 into one
# second in tests/test_busy_hour.py (3 runs in 6 on one day, the arrivals guard on or off).
TELEGRAM_MARGIN = 0.06
# A delivery whose destination's own budget opens within this long waits for it in hand (a
# private chat's next update, a second later); one further off goes back to the ready set,
# due at that moment, and frees the worker for other destinations meanwhile.
OWN_HORIZON = 1.0
LATE_FLOOR = 0.005  # seconds: no event loop wakes closer to its time than this, reliably
LATE_RETRIES = 3


def late_after(shared: Sequence[Budget]) -> float:
    """How late a call may go after its slot on the bot's budgets: half the time their margin
    keeps clear in one window (the other half is the network's)."""
    return max(LATE_FLOOR, min(b.margin * b.per for b in shared) / 2)


def _interval_us(budget: Budget) -> float:
    return budget.per / budget.rate * 1_000_000 * (1 + budget.margin)


def _windows(budget: Budget) -> str:
    """A windows budget's windows as the script reads them, each period with its margin."""
    return ",".join(
        f"{limit}:{period * (1 + budget.margin) * 1_000_000:.0f}"
        for limit, period in budget.windows
    )


@dataclass
class Slots:
    """The moments (`time.monotonic()`) a reservation lets each part's call go, in order."""

    at: list[float]


Renew = Callable[[float], Awaitable[object]]  # keep the lease at least this many seconds


class Actual:
    """This process's own calls, by the moment each one is really made: the second guard.

    Reserved slots are moments planned in Redis; a call is made when its coroutine wakes, some
    milliseconds later under load, and a busy event loop wakes the first of a burst later than
    the rest. Sends late at first and on time after crowd into one window of the platform's
    count (seen: 90 requests in under a second at 90/s, and 429s). So before each call the
    process also keeps the budget's rate by the moments calls are actually made (GCRA on the
    monotonic clock, per budget key): a call that would come too soon after late ones waits
    the difference.
    """

    PRUNE_AT = 10_000  # keys; stale ones (their budget fully recovered) are dropped past this

    def __init__(self) -> None:
        self._tat: dict[str, float] = {}

    @staticmethod
    def tolerance(budget: Budget, interval: float) -> float:
        """How far ahead of its rate this process's calls may bunch: the budget's burst, or half
        the time its margin keeps clear in one window, whichever is more. Spacing calls exactly
        would lose a slot to every late wake-up (fill fell to 44% at 300/s); half the margin
        leaves the other half for the network."""
        return max(interval * max(0, budget.burst - 1), budget.margin * budget.per / 2)

    async def turn(self, budgets: Sequence[Budget]) -> None:
        """Wait until every budget allows a call by this process's actual clock, then take it.

        Windows budgets are left out: one destination's calls, sequential, over seconds."""
        budgets = [b for b in budgets if not b.windows]
        while True:
            now = time.monotonic()
            wait = 0.0
            for b in budgets:
                interval = _interval_us(b) / 1_000_000
                allow_at = self._tat.get(b.key, 0.0) - self.tolerance(b, interval)
                wait = max(wait, allow_at - now)
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        for b in budgets:
            interval = _interval_us(b) / 1_000_000
            self._tat[b.key] = max(self._tat.get(b.key, 0.0), now) + interval
        if len(self._tat) > self.PRUNE_AT:
            self._tat = {k: t for k, t in self._tat.items() if t > now}


ACTUAL = Actual()  # one per process: every worker's budgets object shares it


@dataclass
class Pacer:
    """What a delivery awaits before each platform call that a budget counts (send or edit).

    The n-th call waits for the n-th reserved slot: the first was spent from every budget, the
    later ones from the destination's own, and each of those then queues for the next slot of
    the bot's shared budgets. A call past the reservation (an edit that had to add a part)
    queues for one more slot of every budget. Before a wait longer than `renew_after`,
    `renew(seconds)` extends the sender's lease on the destination past it, once.
    """

    budgets: Budgets
    spends: tuple[Budget, ...]
    slots: list[float]
    renew: Renew | None = None
    renew_after: float = 1.0
    calls: int = 0
    first_at: float | None = None  # when the first call was really made (monotonic)

    async def __call__(self) -> None:
        if self.calls < len(self.slots):
            at = self.slots[self.calls]
        else:
            at = (await self.budgets.wait_slots(self.spends, 1))[0]
        later = 0 < self.calls < len(self.slots)
        self.calls += 1
        await self._sleep_until(at)
        shared = self.spends[:-1]
        if later and shared:  # its own slot came: now the bot's next free one
            at = (await self.budgets.wait_slots(shared, 1))[0]
            await self._sleep_until(at)
        for _ in range(LATE_RETRIES):
            if not shared or time.monotonic() - at <= late_after(shared):
                break
            # Woke too late (a busy loop, a busy machine): the platform would count this call
            # among the calls of the slots after it. Take the bot's next free slot instead (a
            # few times at most: a machine late every time is overloaded, and the metric says so).
            LATE_CALLS.labels(shared[0].key.partition(":")[0]).inc()
            at = (await self.budgets.wait_slots(shared, 1))[0]
            await self._sleep_until(at)
        await ACTUAL.turn(self.spends)
        if self.first_at is None:
            self.first_at = time.monotonic()

    async def _sleep_until(self, at: float) -> None:
        left = at - time.monotonic()
        if left <= 0:
            return
        if self.renew is not None and left > self.renew_after:
            await self.renew(left)
        await asyncio.sleep(left)


async def no_pace() -> None:
    """The pace of calls no budget counts (tests, a delivery with no budgets): go at once."""
    return None


class Budgets:
    """Reserves from, and pauses, the budgets in Redis."""

    def __init__(self, client: aioredis.Redis, keys: Keys | None = None) -> None:
        self.client = client
        self.keys = keys if keys is not None else Keys()
        self._script = Script(client, SCRIPT)

    async def _call(
        self, budgets: Sequence[Budget], parts: int, own_horizon: float, horizon: float
    ) -> list[int]:
        # The last budget is the destination's own (Adapter.budgets: broadest first).
        args: list[object] = ["reserve", max(1, parts), len(budgets) - 1]
        args += [-1 if h < 0 else h * 1_000_000 for h in (own_horizon, horizon)]
        return [int(x) for x in await self._run(budgets, args)]

    async def _run(self, budgets: Sequence[Budget], args: list[object], client: Any = None) -> Any:
        for b in budgets:
            interval = _interval_us(b)
            args += [interval, interval * max(0, b.burst - 1), _windows(b)]
        keys = [self.keys.budget(b.key) for b in budgets]
        return await self._script(keys=keys, args=args, client=client)

    async def reserve(
        self, budgets: Sequence[Budget], parts: int = 1, own_horizon: float = OWN_HORIZON
    ) -> Slots | float:
        """Slots for `parts` calls, or, spending nothing, the seconds until the destination's
        own budget opens when that is more than `own_horizon` away.

        The first slot is the bot's next free one, however many other destinations hold the
        slots before it: a delivery queues for the shared budgets (first come, first served,
        across every worker) instead of asking again and again, and its destination is
        scheduled once, for the moment its own budget opens.
        """
        if not budgets:
            return Slots([time.monotonic()] * max(1, parts))
        reply = await self._call(budgets, parts, own_horizon, -1)
        now = time.monotonic()
        if len(reply) == 1:
            return reply[0] / 1_000_000
        return Slots([now + us / 1_000_000 for us in reply[1:]])

    async def wait_slots(self, budgets: Sequence[Budget], parts: int = 1) -> list[float]:
        """Take the next free slots, however far ahead (never refused); their moments."""
        if not budgets:
            return [time.monotonic()] * max(1, parts)
        reply = await self._call(budgets, parts, -1, -1)
        now = time.monotonic()
        return [now + us / 1_000_000 for us in reply[1:]]

    async def wait_turn(self, budgets: Sequence[Budget]) -> None:
        """Queue for one call's slot and sleep until it (a reply to a command)."""
        at = (await self.wait_slots(budgets, 1))[0]
        if (left := at - time.monotonic()) > 0:
            await asyncio.sleep(left)
        await ACTUAL.turn(budgets)

    async def try_spend(self, budgets: Sequence[Budget]) -> bool:
        """Spend one call's slot if it is open now (a progress edit that may be skipped)."""
        if budgets and len(await self._call(budgets, 1, 0, 0)) == 1:
            return False
        await ACTUAL.turn(budgets)
        return True

    def pace(self, budgets: Sequence[Budget], slots: Slots, renew: Renew | None = None) -> Pacer:
        """A `Pacer` over `slots`, queueing for more slots from `budgets` if calls exceed them."""
        return Pacer(self, tuple(budgets), list(slots.at), renew)

    async def settle(self, pace: Pacer, client: Any = None) -> None:
        """After a copy's calls: its destination budget as the calls really went (`settle` in
        `relay.budget_lua`).

        `client`: a pipeline to join (the ledger write's round trip).
        """
        if pace.first_at is None or len(pace.spends) < 2:
            return  # a lone budget may be a shared one: settling it would waste others' slots
        own = pace.spends[-1]
        ago = (time.monotonic() - pace.first_at) * 1_000_000
        await self._run([own], ["settle", ago, pace.calls], client=client)

    async def pause(self, budget: Budget, seconds: float) -> None:
        """Hold `budget` closed for `seconds` (a platform's retry_after)."""
        await self._run([budget], ["pause", seconds * 1_000_000])
        log.info("budget paused key=%s seconds=%.3f", budget.key, seconds)
