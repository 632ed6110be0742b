"""Subscriptions in Redis: both directions, batched reads, config sync, re-keying."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from relay.config import ChannelConfig
from relay.errors import InvalidUpdate
from relay.keys import Keys
from relay.model import Destination
from relay.subscriptions import Subscriptions

KEYS = Keys()
A = Destination("telegram", "-100111")
B = Destination("discord", "222", None)
T = Destination("telegram", "-100333", "7")


@pytest.fixture
def subs(client: aioredis.Redis) -> Subscriptions:
    return Subscriptions(client, KEYS)


async def test_subscribe_unsubscribe_list(subs: Subscriptions) -> None:
    assert await subs.subscribe(A, ["ukraine", "climate"]) == ["ukraine", "climate"]
    assert await subs.subscribe(A, ["ukraine"]) == []
    await subs.subscribe(T, ["ukraine"])
    assert await subs.topics(A) == ["climate", "ukraine"]
    assert await subs.topics(T) == ["ukraine"]
    assert await subs.topics(Destination("telegram", "-100333")) == []  # thread is distinct
    assert await subs.unsubscribe(A, ["ukraine", "elections"]) == ["ukraine"]
    assert await subs.topics(A) == ["climate"]
    assert await subs.unsubscribe(A) == ["climate"]
    assert await subs.topics(A) == []
    got = [d async for batch in subs.destinations("ukraine") for d in batch]
    assert got == [T]


@pytest.mark.parametrize(
    "topics", [[], [""], ["Ukraine"], ["ukraine", "a b"], ["ukraine\n"], ["ukraine", "a:b|c"]]
)
async def test_subscribe_refuses_what_is_no_topic_and_stores_nothing(
    subs: Subscriptions, client: aioredis.Redis, topics: list[str]
) -> None:
    with pytest.raises(InvalidUpdate) as info:
        await subs.subscribe(A, topics)
    assert info.value.field == "topics"
    assert await client.keys("*") == []


async def test_destinations_are_read_in_batches(
    subs: Subscriptions, client: aioredis.Redis
) -> None:
    dests = [Destination("telegram", str(-1000 - i)) for i in range(2500)]
    async with client.pipeline() as pipe:
        for d in dests:
            pipe.sadd(KEYS.topic_subscribers("ukraine"), str(d))
        await pipe.execute()
    batches = [batch async for batch in subs.destinations("ukraine", batch=200)]
    assert len(batches) > 5  # SSCAN pages, never the whole set at once
    assert max(len(b) for b in batches) < 1000
    assert sorted(d for b in batches for d in b) == sorted(dests)


async def test_config_sync_adds_and_removes_only_config_subscriptions(subs: Subscriptions) -> None:
    await subs.subscribe(B, ["climate"])  # made by a chat command
    first = [ChannelConfig(A, ("ukraine",)), ChannelConfig(B, ("ukraine",))]
    assert await subs.sync_config(first) == (2, 0)
    assert await subs.sync_config(first) == (0, 0)
    assert await subs.sync_config([ChannelConfig(A, ("ukraine",))]) == (0, 1)
    assert await subs.topics(A) == ["ukraine"]
    assert await subs.topics(B) == ["climate"]  # the command's subscription stays


async def test_move_rekeys_every_topic(subs: Subscriptions) -> None:
    old, new = Destination("telegram", "-5"), Destination("telegram", "-1005")
    await subs.subscribe(old, ["ukraine", "climate"])
    assert await subs.move(old, new) == ["climate", "ukraine"]
    assert await subs.topics(old) == []
    assert await subs.topics(new) == ["climate", "ukraine"]
    assert [d async for b in subs.destinations("ukraine") for d in b] == [new]
