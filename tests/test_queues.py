"""Queues' own bookkeeping: failed attempts per job, destinations with work, wake-ups."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from relay.keys import Keys
from relay.model import Destination
from relay.queues import Queues

from .helpers import count_round_trips

KEYS = Keys()
A, B = Destination("memory", "a"), Destination("memory", "b")


async def test_attempts_are_counted_per_job_and_reset(client: aioredis.Redis) -> None:
    queues = Queues(client, KEYS)
    assert [await queues.count_attempt(A, "u1") for _ in range(3)] == [1, 2, 3]
    assert await queues.count_attempt(A, "u2") == 1  # per update
    assert await queues.count_attempt(B, "u1") == 1  # and per destination
    async with client.pipeline(transaction=False) as pipe:
        queues.reset_attempts_in(pipe, A, "u1")
        await pipe.execute()
    assert await queues.count_attempt(A, "u1") == 1
    await queues.reset_attempts(A, "u1")
    assert await queues.count_attempt(A, "u1") == 1


async def test_enqueuing_wakes_a_listener_and_counts_as_waiting(client: aioredis.Redis) -> None:
    queues = Queues(client, KEYS)
    assert await queues.ready.waiting() == 0
    async with queues.ready.wake_ups() as wake_ups:
        await queues.enqueue([A, B], "u1", "1-0")
        async with asyncio.timeout(5):  # a guard against hanging, not a measure
            while not await wake_ups.wait(0.1):
                pass
    assert await queues.ready.waiting() == 2
    async with client.pipeline(transaction=False) as pipe:
        queues.ready.waiting_in(pipe)
        assert await pipe.execute() == [2]


async def test_depths_count_destinations_and_jobs_per_platform_up_to_a_limit(
    client: aioredis.Redis,
) -> None:
    queues = Queues(client, KEYS)
    telegram = [Destination("telegram", str(-1000 - i)) for i in range(5)]
    discord = [Destination("discord", str(9000 + i)) for i in range(3)]
    await queues.enqueue(telegram + discord, "u1", "1-0")
    await queues.enqueue(telegram[:2], "u2", "2-0")
    depths, partial = await queues.depths()
    assert depths == {"telegram": (5, 7), "discord": (3, 3)} and not partial
    some, partial = await queues.depths(limit=4, batch=2)
    assert sum(d for d, _ in some.values()) == 4 and partial


async def test_a_destination_given_back_is_free_and_due_at_once(client: aioredis.Redis) -> None:
    """A worker gives a destination with more work back: the lease is released first, so the
    failed lease of another worker a moment before (which pushes the ready time to its own
    lease's end) cannot hold the work back by a lease's length."""
    queues = Queues(client, KEYS)
    await queues.enqueue([A], "u1", "1-0")
    assert await queues.lease(A, "w1", 5.0)
    assert not await queues.lease(A, "w2", 5.0)  # held: w2 pushed it to ~5 s from now
    await queues.release_and_schedule(A, "w1", 0.0)
    assert await queues.ready.due(10) == [A]  # due now, not in 5 s
    assert await queues.lease(A, "w2", 5.0)  # and free


async def test_lease_many_takes_the_free_ones_in_one_round_trip_and_holds_them_back(
    client: aioredis.Redis,
) -> None:
    queues = Queues(client, KEYS)
    c = Destination("memory", "c")
    await queues.enqueue([A, B, c], "u1", "1-0")
    assert await queues.lease(B, "other", 30)  # another worker serves B
    taken = count_round_trips(client)
    assert await queues.lease_many([A, B, c], "me", 30) == [True, False, True]
    assert taken[0] == 1
    assert await queues.lease_many([A], "me", 30) == [True]  # our own: renewed
    # while leased, none of them is due to the others before the lease would end
    due, later = await queues.ready.turns(10)
    assert due == [] and later is not None and later > 25
    assert await queues.lease_many([], "me", 30) == []
