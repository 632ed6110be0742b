"""The updates stream deleted under a running relay (a FLUSHALL, a restart without AOF): the relay
creates it again and keeps delivering; no part dies and no job becomes a dead letter."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from relay.adapters.memory import MemoryAdapter
from relay.app import Relay
from relay.config import Config
from relay.model import Destination, Update

from .helpers import KEYS

DEST = Destination("memory", "reset-test")


async def test_a_deleted_stream_is_created_again_and_delivery_goes_on(
    client: aioredis.Redis, config: Config
) -> None:
    memory = MemoryAdapter()
    async with Relay(config, adapters=[memory], consumer="reset") as relay:
        await relay.subscriptions.subscribe(DEST, ["ukraine"])
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            await relay.ingest.publish(Update("r1", "ukraine", headline="Before the reset"))
            await memory.wait_for(1, "send")
            for round_ in range(3):  # whatever the dispatcher and senders are doing then
                await client.delete(KEYS.updates)
                await asyncio.sleep(0.05 * round_)
            await relay.ingest.publish(Update("r2", "ukraine", headline="After the reset"))
            await memory.wait_for(2, "send")
            assert relay.failed == {}
            assert not task.done()
            assert await client.xlen(KEYS.dead_letters) == 0
        finally:
            stop.set()
            await task
    assert [c.update_id for c in memory.calls if c.op == "send"] == ["r1", "r2"]
