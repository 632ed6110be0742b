"""What a bad input must leave as it was: every key of the test Valkey with its value."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis


async def snapshot(client: aioredis.Redis, pattern: str = "*") -> dict[Any, Any]:
    """Every key matching `pattern` with its value, read by type."""
    state: dict[Any, Any] = {}
    for key in sorted(await client.keys(pattern)):
        kind = await client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "stream":
            state[key] = await client.xrange(key)
        elif kind == "hash":
            state[key] = await client.hgetall(key)
        elif kind == "zset":
            state[key] = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            state[key] = sorted(await client.smembers(key))
        elif kind == "string":
            state[key] = await client.get(key)
        else:
            state[key] = kind
    return state
