"""hiredis packs the relay's commands into the same bytes redis-py's own packer writes."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError

from relay.backend import EmbeddedValkey, connect
from relay.resp import HiredisPacking, packing_with_hiredis, relay_connection

PLAIN = UnixDomainSocketConnection(path="/nonexistent")
FAST: Any = packing_with_hiredis(UnixDomainSocketConnection)(path="/nonexistent")  # type: ignore[call-arg]
ARGS = st.one_of(
    st.text(),
    st.binary(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
)
NAMES = st.sampled_from(["SET", "EVALSHA", "ZADD", "SCRIPT LOAD", b"CLIENT SETNAME", "HSET"])


@given(st.lists(st.tuples(NAMES, st.lists(ARGS, max_size=6)), min_size=1, max_size=8))
def test_the_same_bytes_as_redis_py_for_any_command(commands: list[tuple[Any, list[Any]]]) -> None:
    stack = [(name, *args) for name, args in commands]
    assert b"".join(FAST.pack_commands(stack)) == b"".join(PLAIN.pack_commands(stack))
    for command in stack:
        assert b"".join(FAST.pack_command(*command)) == b"".join(PLAIN.pack_command(*command))


def test_what_hiredis_refuses_is_refused_as_redis_py_refuses_it() -> None:
    bad: Any
    for bad in (None, True, object()):
        with pytest.raises(DataError):
            FAST.pack_command("SET", "k", bad)
        with pytest.raises(DataError):
            FAST.pack_commands([("GET", "k"), ("SET", "k", bad)])


async def test_the_relays_client_packs_with_hiredis_and_is_answered(valkey: EmbeddedValkey) -> None:
    client: aioredis.Redis = await connect(valkey.url)
    try:
        assert issubclass(client.connection_pool.connection_class, HiredisPacking)
        await client.flushall()
        sha = await client.script_load("return ARGV[1]")
        assert await client.evalsha(sha, 0, "é") == "é".encode()
        async with client.pipeline(transaction=False) as pipe:
            pipe.set("k", "снег ☃")
            pipe.zadd("z", {"m": 1.5})
            pipe.zscore("z", "m")
            pipe.get("k")
            assert await pipe.execute() == [True, 1, 1.5, "снег ☃".encode()]
    finally:
        await client.aclose()


class LosesItsSocket(UnixDomainSocketConnection):
    """A connection whose socket, once connected, is dropped under the next send (what a
    disconnect from another task leaves when the server dies: a cluster master killed)."""

    losing = False

    async def _send_packed_command(self, command: Any) -> None:
        if self.losing:
            self._writer = None
        await super()._send_packed_command(command)


async def test_a_socket_lost_under_a_send_is_a_connection_error(valkey: EmbeddedValkey) -> None:
    """redis-py raised AttributeError ('NoneType' object has no attribute 'writelines'), which
    no outage handler catches: a worker's heartbeat died of it in tests/test_failover.py."""
    path = str(valkey.socket_path)
    ours: Any = relay_connection(LosesItsSocket)
    for connection, raised in ((LosesItsSocket, AttributeError), (ours, RedisConnectionError)):
        conn = connection(path=path, socket_timeout=5)
        await conn.connect()
        conn.losing = True
        with pytest.raises(raised):
            await conn.send_command("PING")
        await conn.disconnect()
    assert issubclass(ours, HiredisPacking)
