"""The first dispatcher: fan-out through adapters, edits and deletes via the ledger, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from adapters.memory import MemoryAdapter
from relay.config import Config
from relay.dispatcher import Dispatcher
from relay.errors import Gone, Moved, RateLimited, Rejected, Transient
from relay.ingest import Ingest
from relay.keys import Keys
from relay.ledger import read_progress
from relay.model import Destination, Update
from relay.stream import list_dead_letters
from relay.subscriptions import Subscriptions

KEYS = Keys()
A, B, C = (Destination("memory", c) for c in ("a", "b", "c"))


class World:
    def __init__(self, client: aioredis.Redis, config: Config) -> None:
        self.client = client
        self.memory = MemoryAdapter(max_part=40)
        self.ingest = Ingest(client, KEYS, config.topic_slugs, 1000)
        self.subs = Subscriptions(client, KEYS)
        self.dispatcher = Dispatcher(client, config, {"memory": self.memory}, "w1")

    async def drain(self) -> None:
        """Process everything in the stream, as `run` would."""
        await self.dispatcher.stream.ensure_group()
        while entries := await self.dispatcher.stream.read(50, 20):
            for entry in entries:
                await self.dispatcher.process(entry)


@pytest.fixture
async def world(client: aioredis.Redis, config: Config) -> AsyncIterator[World]:
    yield World(client, config)


async def test_fan_out_to_every_subscriber_once(world: World) -> None:
    for dest in (A, B, C):
        await world.subs.subscribe(dest, ["ukraine"])
    await world.subs.subscribe(C, ["climate"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Talks resume"))
    await world.ingest.publish(Update("u2", "climate", headline="Pledge"))
    await world.drain()
    assert sorted((c.dest.chat_id, c.update_id) for c in world.memory.calls) == [
        ("a", "u1"), ("b", "u1"), ("c", "u1"), ("c", "u2")
    ]  # fmt: skip
    progress = await read_progress(world.client, KEYS, "u1")
    assert progress is not None and (progress.total, progress.delivered, progress.done) == (
        3,
        3,
        True,
    )
    assert progress.summary() == "delivered 3 / 3 · 0 failed (done)"


async def test_reprocessing_an_entry_repeats_no_completed_delivery(world: World) -> None:
    """A crash after some sends but before XACK: the re-run skips what the ledger has."""
    for dest in (A, B):
        await world.subs.subscribe(dest, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Once"))
    await world.dispatcher.stream.ensure_group()
    [entry] = await world.dispatcher.stream.read(10, 20)
    await world.dispatcher.process(entry)
    await world.dispatcher.process(entry)  # as if redelivered after a crash before the ack
    assert len([c for c in world.memory.calls if c.op == "send"]) == 2


async def test_edits_and_deletes_reach_every_copy_and_only_copies(world: World) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    await world.subs.subscribe(B, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Short"))
    await world.drain()
    await world.subs.subscribe(C, ["ukraine"])  # subscribed after: no backlog, no edit
    long_body = "A longer body that needs several parts at forty characters each."
    await world.ingest.edit("u1", {"headline": "Corrected", "body": long_body})
    await world.drain()
    for dest in (A, B):
        text = "".join(world.memory.texts(dest))
        assert "Corrected" in text and "several parts" in text
        assert len(world.memory.texts(dest)) > 1  # parts were added on edit
    assert world.memory.texts(C) == []
    await world.ingest.edit("u1", {"body": ""})
    await world.drain()
    assert len(world.memory.texts(A)) == 1  # surplus parts deleted when it shrank
    await world.ingest.delete("u1")
    await world.drain()
    assert world.memory.texts(A) == [] and world.memory.texts(B) == []
    assert [c.op for c in world.memory.calls if c.dest == A] == ["send", "edit", "edit", "delete"]


async def test_gone_unsubscribes_and_others_still_receive(world: World) -> None:
    for dest in (A, B):
        await world.subs.subscribe(dest, ["ukraine", "climate"])
    world.memory.fail_next(A, Gone("Forbidden: bot was blocked by the user"))
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.drain()
    assert await world.subs.topics(A) == []
    assert [c.dest for c in world.memory.calls] == [B]
    progress = await read_progress(world.client, KEYS, "u1")
    assert progress is not None and (progress.delivered, progress.failed) == (1, 1)


async def test_moved_rekeys_the_subscription_and_resends(world: World) -> None:
    old = Destination("memory", "-5")
    await world.subs.subscribe(old, ["ukraine"])
    world.memory.fail_next(old, Moved("-1005", "group upgraded"))
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.drain()
    new = Destination("memory", "-1005")
    assert await world.subs.topics(new) == ["ukraine"] and await world.subs.topics(old) == []
    assert [c.dest for c in world.memory.calls] == [new]


async def test_rejected_goes_to_dead_letters_without_retry(world: World) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    world.memory.fail_next(A, Rejected("Bad Request: can't parse entities"))
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.drain()
    [dead] = await list_dead_letters(world.client, KEYS)
    assert (dead.destination, dead.reason) == ("memory:a", "Bad Request: can't parse entities")
    assert world.memory.calls == []  # never retried as is
    assert await world.subs.topics(A) == ["ukraine"]  # still subscribed


async def test_transient_and_rate_limits_are_retried(world: World) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    world.memory.fail_next(A, Transient("502 Bad Gateway"), RateLimited(0.05))
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.drain()
    assert [c.op for c in world.memory.calls] == ["send"]


async def test_gives_up_after_max_attempts(world: World) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    world.memory.fail_next(A, *(Transient(f"timeout {i}") for i in range(3)))  # max_attempts=3
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.drain()
    [dead] = await list_dead_letters(world.client, KEYS)
    assert dead.reason == "gave up after 3 attempts: timeout 2"
    assert world.memory.calls == []


async def test_destination_without_adapter_is_a_dead_letter(world: World) -> None:
    await world.subs.subscribe(Destination("discord", "9"), ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.drain()
    [dead] = await list_dead_letters(world.client, KEYS)
    assert "no adapter for platform 'discord'" in dead.reason


async def test_run_delivers_promptly_and_stops(world: World) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    stop = asyncio.Event()
    task = asyncio.create_task(world.dispatcher.run(stop))
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.memory.wait_for(1, "send", within=5)
    stop.set()
    await asyncio.wait_for(task, 5)
