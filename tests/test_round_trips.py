"""What one delivery costs in Redis: round trips and commands, read from the server's stats.

Issue 13 measured 660-940 Redis commands per delivered message at 30/s (a refused budget made
each destination ask again and again). A delivery now leases its destination, reads the job
(low-water mark and queue head), reads the update and its copy, reserves its slots, writes the
outcome and releases: a handful of round trips, whatever the budgets' state.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from relay.adapter import Budget
from relay.adapters.memory import MemoryAdapter
from relay.config import Config
from relay.model import Destination, Update

from .helpers import Pipeline, count_round_trips


async def _commands(client: aioredis.Redis) -> int:
    stats: dict[str, Any] = await client.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


async def test_a_delivery_costs_a_few_round_trips_even_behind_a_full_budget(
    client: aioredis.Redis, config: Config
) -> None:
    def budgets(dest: Destination) -> tuple[Budget, ...]:
        return (
            Budget("memory:bot:global", rate=25, per=1.0),
            Budget(f"memory:bot:chat:{dest.chat_id}", rate=1, per=1.0),
        )

    memory = MemoryAdapter(budgets=budgets)
    world = Pipeline(client, config, adapters=[memory])
    dests = [Destination("memory", f"c{i}") for i in range(50)]
    for dest in dests:
        await world.subs.subscribe(dest, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.fan_out()
    await client.config_resetstat()
    # Every command or pipeline the sender sends takes a connection from its pool once.
    rounds = count_round_trips(world.sender.client)
    stop = asyncio.Event()
    task = asyncio.create_task(world.sender.run(stop))
    await memory.wait_for(len(dests), "send", within=20)  # two seconds at 25/s
    stop.set()
    await task
    per_delivery = await _commands(client) / len(dests)
    # Seen: 7.3 round trips (claim, lease, job, update and copy, slots, writes, release, and a
    # lease extension for a wait past a second) and 43 commands, Lua scripts' own included.
    assert rounds[0] / len(dests) <= 8, rounds
    assert per_delivery <= 50, per_delivery
