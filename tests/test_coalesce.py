"""Concurrent commands and pipelines share one round trip; each caller gets its own replies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from relay.backend import EmbeddedValkey
from relay.coalesce import Coalesced
from relay.scripts import Script

from .helpers import count_round_trips


async def test_commands_of_concurrent_tasks_go_in_one_round_trip(client: aioredis.Redis) -> None:
    coalesced = Coalesced(client)
    taken = count_round_trips(client)

    async def one(i: int) -> tuple[Any, ...]:
        async with coalesced.pipeline(transaction=False) as pipe:
            pipe.set(f"k{i}", i)
            pipe.incr(f"n{i}")
            written = await pipe.execute()
        return (*written, await coalesced.get(f"k{i}"), await coalesced.zadd("z", {f"m{i}": i}))

    results = await asyncio.gather(*(one(i) for i in range(50)))
    assert results == [(True, 1, str(i).encode(), 1) for i in range(50)]
    # 50 pipelines, 50 GETs and 50 ZADDs: three round trips, not 150
    assert taken[0] == 3
    assert coalesced.batcher.round_trips == 3 and coalesced.batcher.stacks == 150


async def test_an_error_reaches_only_the_caller_whose_command_failed(
    client: aioredis.Redis,
) -> None:
    coalesced = Coalesced(client)
    await client.set("text", "not a number")

    async def pipeline_with_error(raise_on_error: bool) -> list[Any]:
        async with coalesced.pipeline(transaction=False) as pipe:
            pipe.set("a", 1)
            pipe.incr("text")
            pipe.set("b", 2)
            return await pipe.execute(raise_on_error=raise_on_error)

    fine, kept, raised, single = await asyncio.gather(
        coalesced.incr("counter"),
        pipeline_with_error(False),
        pipeline_with_error(True),
        coalesced.incr("text"),
        return_exceptions=True,
    )
    assert fine == 1
    assert isinstance(kept, list) and kept[0] is True and kept[2] is True
    assert isinstance(kept[1], ResponseError)
    # as redis-py's own pipeline raises: the first error, naming the command
    assert isinstance(raised, ResponseError) and "Command # 2 (INCRBY text 1)" in str(raised)
    assert isinstance(single, ResponseError) and "not an integer" in str(single)
    assert await client.mget("a", "b", "counter") == [b"1", b"2", b"1"]


async def test_scripts_go_by_sha1_and_an_emptied_script_cache_is_refilled_unseen(
    client: aioredis.Redis,
) -> None:
    coalesced = Coalesced(client)
    add = Script(coalesced, "return redis.call('INCRBY', KEYS[1], ARGV[1])")
    sent: list[Any] = []
    await client.script_flush()  # as after a restart

    async def one(i: int) -> list[Any]:
        async with coalesced.pipeline(transaction=False) as pipe:
            pipe.set(f"before{i}", i)
            await add(["sum"], [i], client=pipe)
            pipe.get(f"before{i}")
            sent.extend(args[0] for args, _ in pipe.command_stack)
            return list(await pipe.execute())

    results = await asyncio.gather(*(one(i) for i in range(1, 5)))
    assert sorted(r[1] for r in results) == [1, 3, 6, 10]  # each call ran once
    assert [(r[0], r[2]) for r in results] == [(True, str(i).encode()) for i in range(1, 5)]
    assert "EVALSHA" in sent and "EVAL" not in sent
    assert coalesced.batcher.reloads == 1
    assert await add(["sum"], [5], client=None) == 15  # the direct call, now cached
    assert coalesced.batcher.reloads == 1


async def test_scripts_load_themselves_and_transactions_stay_whole(
    client: aioredis.Redis,
) -> None:
    coalesced = Coalesced(client)
    script = Script(coalesced, "return redis.call('INCRBY', KEYS[1], ARGV[1])")
    await client.script_flush()  # EVALSHA answers NOSCRIPT: redis-py loads it and retries
    both = list(await asyncio.gather(script(["s"], [2]), script(["s"], [3])))
    assert both in ([2, 5], [3, 5])
    async with coalesced.pipeline(transaction=False) as pipe:
        await script(["s"], [10], client=pipe)
        assert await pipe.execute() == [15]
    async with coalesced.pipeline(transaction=True) as tx:
        tx.incr("t")
        tx.incr("t")
        assert await tx.execute() == [1, 2]


async def test_a_lost_server_fails_every_caller_of_the_round_trip() -> None:
    gone = aioredis.Redis.from_url("unix:///tmp/no-such-relay-socket.sock")
    coalesced = Coalesced(gone)
    results = await asyncio.gather(
        coalesced.get("a"), coalesced.set("b", 1), return_exceptions=True
    )
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    assert results[0] is not results[1]
    with pytest.raises(ConnectionError):
        async with coalesced.pipeline(transaction=False) as pipe:
            pipe.get("a")
            await pipe.execute()
    await gone.aclose()


async def test_a_server_that_stops_answering_times_out_every_caller_once(
    valkey: EmbeddedValkey, client: aioredis.Redis
) -> None:
    """The merged round trip reads under one timeout, the connection's own socket timeout."""
    slow = aioredis.Redis.from_url(valkey.url, socket_timeout=0.2)
    await slow.ping()  # connected: the pause below holds commands, not the handshake
    coalesced = Coalesced(slow)
    await client.client_pause(1000, all=True)
    started = time.monotonic()
    results = await asyncio.gather(
        coalesced.get("a"), coalesced.set("b", 1), return_exceptions=True
    )
    assert [type(r) for r in results] == [RedisTimeoutError, RedisTimeoutError]
    assert time.monotonic() - started < 0.9  # not the pause's full second
    await client.client_unpause()
    # the connection's bound is back for its next user, who is answered
    assert await coalesced.set("c", 1) is True
    assert all(c.socket_timeout == 0.2 for c in slow.connection_pool._available_connections)
    await slow.aclose()
