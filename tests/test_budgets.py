"""Budgets in Redis: GCRA spends from all of a send's budgets or none, on the server's clock."""

from __future__ import annotations

import asyncio
import itertools
import time

import redis.asyncio as aioredis

from relay.adapter import Budget
from relay.budgets import Budgets, Slots, late_after
from relay.keys import Keys
from relay.metrics import LATE_CALLS

TEN = Budget("memory:bot:chat:1", rate=10, per=1.0)


async def spend(budgets: Budgets, spends: list[Budget], parts: int = 1) -> float:
    """Reserve `parts` slots if the first is open: 0; else the seconds to wait (nothing spent)."""
    granted = await budgets.reserve(spends, parts, own_horizon=0)
    return 0.0 if isinstance(granted, Slots) else granted


async def test_spacing_follows_the_rate(client: aioredis.Redis) -> None:
    budgets = Budgets(client)
    assert await spend(budgets, [TEN]) == 0
    wait = await spend(budgets, [TEN])
    assert 0.05 < wait <= 0.105  # the next send is due one emission interval (100 ms) later


async def test_burst_lets_that_many_through_at_once(client: aioredis.Redis) -> None:
    budgets = Budgets(client)
    burst = Budget("memory:bot:chat:2", rate=1, per=1.0, burst=3)
    assert [await spend(budgets, [burst]) for _ in range(3)] == [0, 0, 0]
    assert await spend(budgets, [burst]) > 0.5


async def test_all_or_nothing(client: aioredis.Redis) -> None:
    """A send one budget refuses costs nothing from the others."""
    budgets = Budgets(client)
    closed = Budget("memory:bot:group:9", rate=1, per=60.0)
    assert await spend(budgets, [closed]) == 0
    open_one = Budget("memory:bot:global", rate=1, per=10.0)
    assert await spend(budgets, [open_one, closed]) > 50  # the group waits ~60 s
    assert await spend(budgets, [open_one]) == 0  # the global budget was not spent


async def test_parts_are_admitted_whole_each_at_its_slot(client: aioredis.Redis) -> None:
    """A three-part copy gets three slots at once: now, and one interval apart after that."""
    budgets = Budgets(client)
    slots = await budgets.reserve([TEN], 3)
    assert isinstance(slots, Slots)
    gaps = [b - a for a, b in itertools.pairwise(slots.at)]
    assert len(slots.at) == 3 and all(0.09 < g < 0.11 for g in gaps)
    wait = await spend(budgets, [TEN])  # the next send comes after all three
    assert 0.25 < wait <= 0.32
    assert await spend(budgets, [TEN], 3) > 0.25  # and a big send waits its turn too


async def test_a_burst_budget_lets_parts_go_at_once_then_one_per_interval(
    client: aioredis.Redis,
) -> None:
    """A chat's burst of 3 takes three parts at once; a fourth part waits its interval."""
    budgets = Budgets(client)
    chat = Budget("memory:bot:chat:7", rate=1, per=1.0, burst=3)
    overall = Budget("memory:bot:global", rate=30, per=1.0)
    slots = await budgets.reserve([overall, chat], 4)
    assert isinstance(slots, Slots)
    offsets = [at - slots.at[0] for at in slots.at]
    assert offsets[1] < 0.05 and offsets[2] < 0.1  # the global budget spaces them 1/30 s
    assert 0.95 < offsets[3] < 1.1  # the chat's burst is spent: the fourth waits a second
    refused = await budgets.reserve([overall, chat], 2)  # the chat is two seconds ahead now
    assert isinstance(refused, float) and 0.9 < refused <= 2.1


async def test_a_reply_queues_instead_of_being_refused(client: aioredis.Redis) -> None:
    """`wait_slots` never refuses: each caller takes the next free slot and waits for it."""
    budgets = Budgets(client)
    chat = Budget("memory:bot:chat:8", rate=5, per=1.0)
    firsts = [(await budgets.wait_slots([chat]))[0] for _ in range(4)]
    gaps = [b - a for a, b in itertools.pairwise(firsts)]
    assert all(0.18 < g < 0.23 for g in gaps)  # 5 a second: one slot every 200 ms
    assert not await budgets.try_spend([chat])  # the queued slots keep the budget closed


async def test_pace_waits_for_each_slot_and_queues_past_them(client: aioredis.Redis) -> None:
    budgets = Budgets(client)
    chat = Budget("memory:bot:chat:9", rate=10, per=1.0)
    slots = await budgets.reserve([chat], 2)
    assert isinstance(slots, Slots)
    renewed: list[float] = []

    async def renew(seconds: float) -> None:
        renewed.append(seconds)

    pace = budgets.pace([chat], slots, renew)
    pace.renew_after = 0.05
    started = time.monotonic()
    for _ in range(4):  # two reserved calls, two more than were reserved
        await pace()
    took = time.monotonic() - started
    assert 0.28 < took < 0.6  # four slots 100 ms apart: the fourth at +300 ms
    assert len(renewed) == 3 and all(0.05 < s <= 0.11 for s in renewed)  # once per wait


async def test_pause_holds_the_budget_closed(client: aioredis.Redis) -> None:
    budgets = Budgets(client)
    await budgets.pause(TEN, 2.0)
    assert 1.9 < await spend(budgets, [TEN]) <= 2.0
    await budgets.pause(TEN, 0.5)  # a shorter pause never shortens a longer one
    assert await spend(budgets, [TEN]) > 1.5


async def test_keys_of_one_bot_share_a_hash_tag() -> None:
    assert Keys().budget("telegram:123:chat:-5") == "relay:{b:telegram:123}:chat:-5"
    assert Keys().budget("telegram:123:global") == "relay:{b:telegram:123}:global"
    assert Keys().budget("discord:9") == "relay:{b:discord:9}:global"


async def _worker(budgets: Budgets, budget: Budget, until: float, log: list[int]) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        wait = await spend(budgets, [budget])
        if wait == 0:
            log.append(1)
        else:
            await asyncio.sleep(wait)


async def test_workers_sharing_a_budget_never_exceed_it(client: aioredis.Redis) -> None:
    """Three workers with their own connections on one budget: at most rate x time + burst."""
    budget = Budget("memory:shared:global", rate=50, per=1.0, burst=5)
    clients = [aioredis.Redis(connection_pool=client.connection_pool) for _ in range(3)]
    log: list[int] = []
    start = await client.time()
    until = asyncio.get_running_loop().time() + 1.0
    await asyncio.gather(*(_worker(Budgets(c), budget, until, log) for c in clients))
    end = await client.time()
    elapsed = (end[0] - start[0]) + (end[1] - start[1]) / 1e6
    assert len(log) <= budget.rate * elapsed + budget.burst
    assert len(log) > 0


async def test_calls_keep_the_rate_by_when_they_are_really_made(client: aioredis.Redis) -> None:
    """Slots planned 100 ms apart, the first call made late: the next still waits its interval
    after the late one, so the platform never counts two calls closer than its rate."""
    budgets = Budgets(client)
    chat = Budget("memory:bot:chat:10", rate=10, per=1.0)
    slots = await budgets.reserve([chat], 2)
    assert isinstance(slots, Slots)
    pace = budgets.pace([chat], slots)
    await asyncio.sleep(0.09)  # the event loop was busy: the first call goes 90 ms late
    await pace()
    first = time.monotonic()
    await pace()  # its slot (+105 ms) is 15 ms away, but the last call was just made
    # One interval (105 ms) after it, less the bunching the guard allows (half the 5% margin
    # of one second: 25 ms); by its slot alone it would have gone 15 ms after.
    assert time.monotonic() - first >= 0.075


async def test_a_long_copy_never_holds_the_bots_budget_for_other_chats(
    client: aioredis.Redis,
) -> None:
    """Three parts to a group (one a second) reserve the group's slots, not the bot's: another
    chat's send is admitted at once, and each later part takes the bot's next slot when due."""
    budgets = Budgets(client)
    overall = Budget("memory:bot:global", rate=30, per=1.0)
    group = Budget("memory:bot:chat:-5", rate=1, per=1.0)
    slots = await budgets.reserve([overall, group], 3)
    assert isinstance(slots, Slots) and slots.at[2] - slots.at[0] > 1.9
    other = await budgets.reserve([overall, Budget("memory:bot:chat:6", rate=1, per=1.0)])
    assert isinstance(other, Slots)  # queued for the bot's next slot:
    assert other.at[0] - slots.at[0] < 0.05  # one bot interval after the first, not two seconds


async def test_a_copy_that_went_late_holds_its_chat_from_when_it_went(
    client: aioredis.Redis,
) -> None:
    """Three parts reserved now but sent 200 ms late (queued behind other chats' calls): the
    chat's next copy waits from when they went, as the platform counts, not from the plan."""
    budgets = Budgets(client)
    overall = Budget("memory:bot:global", rate=1000, per=1.0)
    chat = Budget("memory:bot:chat:11", rate=10, per=1.0, burst=3)
    slots = await budgets.reserve([overall, chat], 3)
    assert isinstance(slots, Slots)
    pace = budgets.pace([overall, chat], slots)
    await asyncio.sleep(0.2)
    for _ in range(3):
        await pace()
    await budgets.settle(pace)
    wait = await budgets.reserve([overall, chat], 1, own_horizon=0)
    assert isinstance(wait, float) and 0.05 < wait <= 0.11  # planned: it would go at once


async def test_a_send_queues_for_the_bots_budget_but_not_for_its_own_far_off(
    client: aioredis.Redis,
) -> None:
    """Behind other chats, a send gets the bot's next free slot (never refused for it); when
    its own chat's budget opens only later than the horizon, it is told when, spending nothing."""
    budgets = Budgets(client)
    overall = Budget("memory:bot:global", rate=10, per=1.0, margin=0.0)
    chats = [Budget(f"memory:bot:chat:{i}", rate=1, per=60.0, margin=0.0) for i in range(5)]
    firsts = []
    for chat in chats:
        slots = await budgets.reserve([overall, chat])
        assert isinstance(slots, Slots)
        firsts.append(slots.at[0])
    gaps = [b - a for a, b in itertools.pairwise(firsts)]
    assert all(0.09 < g < 0.11 for g in gaps)  # first come, first served, one interval apart
    refused = await budgets.reserve([overall, chats[0]])  # its group allows one a minute
    assert isinstance(refused, float) and 59 < refused <= 60
    after = await budgets.reserve([overall, Budget("memory:bot:chat:9", rate=1, per=1.0)])
    assert isinstance(after, Slots) and after.at[0] - firsts[-1] < 0.11  # nothing was spent


async def test_a_windows_budget_lets_a_burst_go_as_far_as_its_windows_allow(
    client: aioredis.Redis,
) -> None:
    """A group's "20 in any minute" and "2 in any 2 s": two at once, then two every 2 s up to
    20, then the 21st only when the first has left the minute; every window holds after any
    number of reservations, pauses and settles."""
    budgets = Budgets(client)
    group = Budget(
        "memory:bot:chat:-42", rate=20, per=60.0, margin=0.0, windows=((20, 60.0), (2, 2.0))
    )
    slots = await budgets.reserve([group], 20, own_horizon=-1)
    assert isinstance(slots, Slots)
    offsets = [at - slots.at[0] for at in slots.at]
    assert offsets[1] < 0.01 and 1.99 < offsets[2] < 2.01  # two at once, then the 2 s window
    assert 17.9 < offsets[19] < 18.1  # twenty in 18 s, not one every 3 s (57 s)
    refused = await budgets.reserve([group], own_horizon=0)
    assert isinstance(refused, float) and 59.9 < refused <= 60.0  # the minute is full
    for window, period in group.windows:
        for i, at in enumerate(slots.at):
            assert sum(1 for b in slots.at[i:] if b - at < period) <= window
    other = Budget("memory:bot:chat:-43", rate=20, per=60.0, windows=((20, 60.0),))
    await budgets.pause(other, 5.0)
    paused = await budgets.reserve([other], own_horizon=0)
    assert isinstance(paused, float) and 4.9 < paused <= 5.0


async def test_a_call_that_wakes_too_late_for_its_slot_takes_the_bots_next_one(
    client: aioredis.Redis,
) -> None:
    """A call made well after its slot (a busy machine) would reach the platform bunched with
    the calls of the slots after it: it takes the bot's next free slot instead, and counts."""
    budgets = Budgets(client)
    overall = Budget("memory:late:global", rate=10, per=1.0, margin=0.04)
    chat = Budget("memory:late:chat:1", rate=10, per=1.0)
    assert late_after([overall]) == 0.02
    slots = await budgets.reserve([overall, chat])
    assert isinstance(slots, Slots)
    other = await budgets.reserve([overall, Budget("memory:late:chat:2", rate=10, per=1.0)])
    assert isinstance(other, Slots)  # the next slot, 104 ms after ours, is another chat's
    before = LATE_CALLS.labels("memory")._value.get()
    await asyncio.sleep(0.06)  # asleep past our slot, by more than 20 ms
    await budgets.pace([overall, chat], slots)()
    assert LATE_CALLS.labels("memory")._value.get() == before + 1
    assert time.monotonic() >= other.at[0] + 0.1  # after the other chat's slot, not with it
    third = Budget("memory:late:chat:3", rate=10, per=1.0)
    on_time = await budgets.reserve([overall, third])
    assert isinstance(on_time, Slots)
    await budgets.pace([overall, third], on_time)()  # made at its slot: no second slot taken
    assert LATE_CALLS.labels("memory")._value.get() == before + 1


async def test_a_budget_key_of_the_other_kind_reads_as_empty(client: aioredis.Redis) -> None:
    """A rolling upgrade: a group's budget written as a rate (a number) by the old relay, read
    as windows (a list) by the new one, and back: each reads it as empty, never WRONGTYPE."""
    budgets = Budgets(client)
    windows = Budget("memory:up:chat:-1", rate=20, per=60.0, windows=((20, 60.0),))
    rate = Budget("memory:up:chat:-1", rate=20, per=60.0)
    await client.set(Keys().budget(windows.key), "1")
    assert isinstance(await budgets.reserve([windows], own_horizon=0), Slots)
    assert await client.type(Keys().budget(windows.key)) == b"list"
    assert isinstance(await budgets.reserve([rate], own_horizon=-1), Slots)
    assert await client.type(Keys().budget(rate.key)) == b"string"
