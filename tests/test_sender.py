"""The scheduler: no head-of-line blocking, shared work across workers, leases, retry_after."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from relay.adapter import Budget
from relay.adapters.memory import MemoryAdapter
from relay.budgets import Slots
from relay.config import Config
from relay.errors import LimitUnnamed, RateLimited
from relay.keys import shard_of
from relay.model import Destination, Update
from relay.queues import now_ms

from .conftest import BACKINGS
from .helpers import KEYS, Pipeline


@pytest.fixture(params=BACKINGS)
def backing(request: pytest.FixtureRequest) -> str:
    """Every test here runs on the single server, and on the cluster with `-m cluster`."""
    return str(request.param)


def per_chat(slow: set[str]) -> Callable[[Destination], tuple[Budget, ...]]:
    """1 message a minute for the chats in `slow`, 100/s for the others."""

    def budgets(dest: Destination) -> tuple[Budget, ...]:
        if dest.chat_id in slow:
            return (Budget(f"memory:bot:chat:{dest.chat_id}", rate=1, per=60.0),)
        return (Budget(f"memory:bot:chat:{dest.chat_id}", rate=100, per=1.0, burst=10),)

    return budgets


async def _run(pipelines: list[Pipeline]) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    stop = asyncio.Event()
    tasks = []
    for p in pipelines:
        await p.dispatcher.stream.ensure_group()
        tasks.append(asyncio.create_task(p.dispatcher.run(stop)))
        tasks.append(asyncio.create_task(p.sender.run(stop)))
    return stop, tasks


async def test_a_slow_group_does_not_delay_the_other_chats(
    client: aioredis.Redis, config: Config
) -> None:
    memory = MemoryAdapter(budgets=per_chat({"slow-group"}))
    world = Pipeline(client, config, adapters=[memory])
    others = [Destination("memory", f"chat{i}") for i in range(10)]
    slow = Destination("memory", "slow-group")
    for dest in [slow, *others]:
        await world.subs.subscribe(dest, ["ukraine"])
    stop, tasks = await _run([world])
    for i in range(3):
        await world.ingest.publish(Update(f"u{i}", "ukraine", headline=f"Update {i}"))
    await memory.wait_for(1 + 3 * len(others), "send", within=20)
    stop.set()
    await asyncio.gather(*tasks)
    for dest in others:
        assert [c.update_id for c in memory.calls if c.dest == dest] == ["u0", "u1", "u2"]
    assert [c.update_id for c in memory.calls if c.dest == slow] == ["u0"]
    assert await world.queues.pending(slow) == ["u1", "u2"]  # waiting for its budget, in order
    ready = world.keys.ready(shard_of(str(slow), world.keys.shards))
    due_at = await client.zscore(ready, str(slow))
    assert due_at is not None and due_at > now_ms() + 50_000  # scheduled ~1 minute out


async def test_several_workers_share_the_work_once_each_in_order(
    client: aioredis.Redis, config: Config
) -> None:
    workers = [Pipeline(client, config, worker=f"w{i}") for i in range(3)]
    dests = [Destination("memory", f"d{i}") for i in range(30)]
    for dest in dests:
        await workers[0].subs.subscribe(dest, ["ukraine"])
    stop, tasks = await _run(workers)
    for i in range(5):
        await workers[i % 3].ingest.publish(Update(f"u{i}", "ukraine", headline=f"n{i}"))
    async with asyncio.timeout(30):
        while sum(len(w.memory.calls) for w in workers) < len(dests) * 5:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*tasks)
    calls = sorted(
        (c for w in workers for c in w.memory.calls), key=lambda c: int(c.message_ids[0])
    )
    for dest in dests:
        got = [c.update_id for w in workers for c in w.memory.calls if c.dest == dest]
        assert sorted(got) == [f"u{i}" for i in range(5)]  # each once
    assert len(calls) == len(dests) * 5


async def test_order_holds_per_destination_across_workers(
    client: aioredis.Redis, config: Config
) -> None:
    """A destination is served by one worker at a time, so its copies arrive in stream order."""
    shared = MemoryAdapter()
    workers = [Pipeline(client, config, adapters=[shared], worker=f"w{i}") for i in range(3)]
    dests = [Destination("memory", f"d{i}") for i in range(8)]
    for dest in dests:
        await workers[0].subs.subscribe(dest, ["ukraine"])
    stop, tasks = await _run(workers)
    for i in range(12):
        await workers[0].ingest.publish(Update(f"u{i:02}", "ukraine", headline=f"n{i}"))
    await shared.wait_for(len(dests) * 12, "send", within=30)
    stop.set()
    await asyncio.gather(*tasks)
    for dest in dests:
        assert [c.update_id for c in shared.calls if c.dest == dest] == [
            f"u{i:02}" for i in range(12)
        ]


async def test_a_dead_workers_destination_is_taken_over_when_its_lease_ends(
    client: aioredis.Redis, config: Config
) -> None:
    world = Pipeline(client, config)
    held, free = Destination("memory", "held"), Destination("memory", "free")
    for dest in (held, free):
        await world.subs.subscribe(dest, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.fan_out()
    # A worker leased `held` and was killed: the lease and the bumped ready score remain.
    assert await world.queues.lease(held, "killed-worker", ttl=3.0)
    stop, tasks = await _run([world])
    await world.memory.wait_for(1, "send", within=10)
    assert [c.dest for c in world.memory.calls] == [free]
    assert await client.exists(KEYS.lease(str(held)))  # still held by the dead worker
    await world.memory.wait_for(2, "send", within=15)  # then taken over
    stop.set()
    await asyncio.gather(*tasks)
    assert [c.dest for c in world.memory.calls] == [free, held]


async def test_retry_after_pauses_exactly_the_budget_it_names(
    client: aioredis.Redis, config: Config
) -> None:
    memory = MemoryAdapter(budgets=per_chat(set()))
    world = Pipeline(client, config, adapters=[memory])
    a, b = Destination("memory", "a"), Destination("memory", "b")
    for dest in (a, b):
        await world.subs.subscribe(dest, ["ukraine"])
    memory.fail_next(a, RateLimited(2.0, budget_key="memory:bot:chat:a"))
    stop, tasks = await _run([world])
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await memory.wait_for(1, "send", within=15)

    async def paused_for(chat: str) -> float:
        tat = await client.get(f"relay:{{b:memory:bot}}:chat:{chat}")
        seconds, micros = await client.time()
        return (float(tat or 0) - (seconds * 1e6 + micros)) / 1e6

    async with asyncio.timeout(5):
        while await paused_for("a") < 0.5:  # noqa: ASYNC110 - the pause is written by the sender
            await asyncio.sleep(0.01)
    assert await paused_for("b") < 0.5  # only the named budget was paused
    await memory.wait_for(2, "send", within=15)
    stop.set()
    await asyncio.gather(*tasks)
    assert [c.dest for c in memory.calls] == [b, a]  # b went at once; a after its pause


async def test_a_full_shared_budget_is_queued_for_once_per_send_not_polled(
    client: aioredis.Redis, config: Config
) -> None:
    """40 chats behind a bot budget of 20/s: each send asks the budgets once, in two workers.

    A destination waits in hand for the bot's next free slot (first come, first served across
    the workers) instead of being refused and asking again; none is sent early.
    """

    def budgets(dest: Destination) -> tuple[Budget, ...]:
        return (
            Budget("memory:bot:global", rate=20, per=1.0, margin=0.0),
            Budget(f"memory:bot:chat:{dest.chat_id}", rate=1, per=1.0, margin=0.0),
        )

    shared = MemoryAdapter(budgets=budgets)
    workers = [Pipeline(client, config, adapters=[shared], worker=f"w{i}") for i in range(2)]
    asked: list[bool] = []  # each reservation a send asked for: granted or refused
    for w in workers:
        reserve = w.sender.syncer.budgets.reserve

        async def counted(*args: Any, reserve: Any = reserve, **kw: Any) -> Slots | float:
            # (A call that wakes too late for its slot takes another through wait_slots: the
            # late-call guard, under load, not a poll.)
            reply: Slots | float = await reserve(*args, **kw)
            asked.append(isinstance(reply, Slots))
            return reply

        w.sender.syncer.budgets.reserve = counted  # type: ignore[method-assign]
    dests = [Destination("memory", f"c{i}") for i in range(40)]
    for dest in dests:
        await workers[0].subs.subscribe(dest, ["ukraine"])
    stop, tasks = await _run(workers)
    await workers[0].ingest.publish(Update("u1", "ukraine", headline="h"))
    await shared.wait_for(len(dests), "send", within=20)
    stop.set()
    await asyncio.gather(*tasks)
    assert sorted(c.dest for c in shared.calls) == sorted(dests)  # each once
    assert len(asked) == len(dests) and all(asked)  # one reservation per send, each granted
    times = sorted(t for d in dests for t in shared.part_times[d])
    assert times[-1] - times[0] >= (len(dests) - 1) / 20 * 0.95  # the bot's rate was kept


async def test_a_429_that_names_no_limit_holds_the_bot_a_moment_and_the_chat_its_wait(
    client: aioredis.Redis, config: Config
) -> None:
    """Telegram's 429 never says which limit was hit: the chat waits what it was told, and the
    bot's shared budget holds every other chat for up to a second (it may have been the bot's
    30 a second). A 429 that names its limit (Discord's) pauses that one alone."""

    def budgets(dest: Destination) -> tuple[Budget, ...]:
        return (
            Budget("memory:bot:global", rate=100, per=1.0),
            Budget(f"memory:bot:chat:{dest.chat_id}", rate=100, per=1.0),
        )

    async def paused_for(scope: str) -> float:
        tat = await client.get(f"relay:{{b:memory:bot}}:{scope}")
        seconds, micros = await client.time()
        return (float(tat or 0) - (seconds * 1e6 + micros)) / 1e6

    for named, bot_hold in ((False, (0.8, 1.05)), (True, (-1.0, 0.05))):
        await client.flushdb()
        memory = MemoryAdapter(budgets=budgets)
        world = Pipeline(client, config, adapters=[memory])
        a = Destination("memory", "a")
        await world.subs.subscribe(a, ["ukraine"])
        limit = RateLimited if named else LimitUnnamed
        memory.fail_next(a, limit(5.0, budget_key="memory:bot:chat:a"))
        await world.ingest.publish(Update("u1", "ukraine", headline="h"))
        await world.fan_out()
        assert await world.sender.syncer.step(a) == 5.0
        assert 4.8 < await paused_for("chat:a") <= 5.05
        assert bot_hold[0] < await paused_for("global") <= bot_hold[1]
