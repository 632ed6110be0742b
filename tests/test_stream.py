"""The updates stream on a real Valkey: consume, acknowledge, take over, dead-letter."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from relay import model
from relay.config import Config
from relay.dead_letters import list_dead_letters
from relay.dispatcher import Dispatcher
from relay.ingest import Ingest
from relay.keys import Keys
from relay.model import Destination, Update
from relay.stream import Stream

from .helpers import Pipeline

KEYS = Keys()


def _ingest(client: aioredis.Redis) -> Ingest:
    return Ingest(client, KEYS, ["ukraine", "climate", "elections"], max_backlog=1000)


async def test_publish_consume_ack(client: aioredis.Redis) -> None:
    stream = Stream(client, KEYS, "worker-a")
    await stream.ensure_group()
    accepted = await _ingest(client).publish(Update("u1", "ukraine", headline="Talks resume"))
    entries = await stream.read(count=10, block_ms=100)
    assert [e.id for e in entries] == [accepted.entry_id]
    assert model.decode(entries[0].fields["update"]).headline == "Talks resume"
    assert (await client.xpending(KEYS.updates, KEYS.group))["pending"] == 1
    await stream.ack(accepted.entry_id)
    assert (await client.xpending(KEYS.updates, KEYS.group))["pending"] == 0
    assert await stream.read(count=10, block_ms=50) == []


async def test_entries_published_before_the_group_exists_are_delivered(
    client: aioredis.Redis,
) -> None:
    await _ingest(client).publish(Update("early", "ukraine", headline="Before any worker"))
    stream = Stream(client, KEYS, "late-worker")
    await stream.ensure_group()
    await stream.ensure_group()  # idempotent
    assert [model.decode(e.fields["update"]).id for e in await stream.read(10, 50)] == ["early"]


async def test_a_restarted_consumer_first_finishes_its_own_pending_entries(
    client: aioredis.Redis,
) -> None:
    first = Stream(client, KEYS, "worker-a")
    await first.ensure_group()
    await _ingest(client).publish(Update("u1", "ukraine", headline="One"))
    held = await first.read(10, 50)
    again = Stream(client, KEYS, "worker-a")  # same name after a restart
    assert [e.id for e in await again.read(10, 50)] == [e.id for e in held]


async def test_block_read_wakes_when_an_entry_arrives(client: aioredis.Redis) -> None:
    stream = Stream(client, KEYS, "worker-a")
    await stream.ensure_group()
    reader = asyncio.create_task(stream.read(10, 5000))
    await asyncio.sleep(0.05)
    await _ingest(client).publish(Update("u1", "ukraine", headline="Now"))
    entries = await asyncio.wait_for(reader, 2.0)  # long before the 5 s block expires
    assert len(entries) == 1


async def test_entries_of_a_dead_consumer_are_claimed_and_finished(
    client: aioredis.Redis, config: Config
) -> None:
    """A consumer that read entries and died: another worker claims and delivers them."""
    dest = Destination("memory", "chat-1")
    await client.sadd(KEYS.topic_subscribers("ukraine"), str(dest))
    dead = Stream(client, KEYS, "dead-worker")
    await dead.ensure_group()
    for i in range(3):
        await _ingest(client).publish(Update(f"u{i}", "ukraine", headline=f"Entry {i}"))
    assert len(await dead.read(10, 50)) == 3  # read, never acknowledged: the worker "crashed"

    survivor = Pipeline(client, config, worker="survivor")
    stop = asyncio.Event()
    tasks = [asyncio.create_task(survivor.dispatcher.run(stop)),
             asyncio.create_task(survivor.sender.run(stop))]  # fmt: skip
    await survivor.memory.wait_for(3, "send", within=10)  # claim_idle_seconds=1 in the test config
    stop.set()
    await asyncio.gather(*tasks)
    assert sorted(c.update_id for c in survivor.memory.calls) == ["u0", "u1", "u2"]
    assert (await client.xpending(KEYS.updates, KEYS.group))["pending"] == 0


async def test_malformed_entries_go_to_dead_letters_with_the_reason(
    client: aioredis.Redis, config: Config
) -> None:
    await Stream(client, KEYS, "w").ensure_group()
    await client.xadd(KEYS.updates, {"update": "{not json"})
    await client.xadd(KEYS.updates, {"something": "else"})
    await client.xadd(KEYS.updates, {"update": '{"id": "x", "topic": "sport", "headline": "h"}'})
    dispatcher = Dispatcher(client, config, "w")
    for entry in await dispatcher.stream.read(10, 50):
        await dispatcher.process(entry)
    reasons = [d.reason for d in reversed(await list_dead_letters(client, KEYS))]
    assert reasons[0].startswith("unparseable update: update: not valid JSON")
    assert reasons[1] == "entry has no 'update' field"
    assert reasons[2] == "topic 'sport' is not configured"
    assert (await client.xpending(KEYS.updates, KEYS.group))["pending"] == 0


async def test_an_entry_that_keeps_failing_becomes_a_dead_letter(
    client: aioredis.Redis, config: Config
) -> None:
    """An entry whose fan-out fails is retried by claims, then dead-lettered (K = 3)."""
    await client.sadd(KEYS.topic_subscribers("ukraine"), "memory:c1")
    await client.set(KEYS.targets("u1"), "not a set")  # Redis will answer WRONGTYPE
    await _ingest(client).publish(Update("u1", "ukraine", headline="Fails"))
    dispatcher = Dispatcher(client, config, "w")
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    # Poll the server: the dead letter is written by the dispatcher, not signalled to us.
    async with asyncio.timeout(20):
        while not await client.xlen(KEYS.dead_letters):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    stop.set()
    await task
    [dead] = await list_dead_letters(client, KEYS)
    assert dead.reason.startswith("failed 3 times: ResponseError: ")
    assert "WRONGTYPE" in dead.reason
    assert model.decode(dead.payload).id == "u1"
    assert (await client.xpending(KEYS.updates, KEYS.group))["pending"] == 0


async def test_appending_never_trims_an_entry_no_dispatcher_has_read(
    client: aioredis.Redis,
) -> None:
    """Issue 11, item 4: MAXLEN at XADD time deleted entries before any dispatcher read them."""
    await Stream(client, KEYS, "w").ensure_group()
    ingest = _ingest(client)
    ids = [(await ingest.publish(Update(f"u{i}", "ukraine", headline="h"))).entry_id
           for i in range(1000)]  # fmt: skip
    assert await client.xlen(KEYS.updates) == 1000
    read = [e.id for e in await Stream(client, KEYS, "w").read(1000, 50)]
    assert read == ids


async def _publish(client: aioredis.Redis, count: int) -> list[str]:
    ingest = Ingest(client, KEYS, ["ukraine"], max_backlog=10_000)
    return [(await ingest.publish(Update(f"u{i}", "ukraine", headline="h"))).entry_id
            for i in range(count)]  # fmt: skip


async def _left(client: aioredis.Redis) -> set[str]:
    return {e.decode() for e, _ in await client.xrange(KEYS.updates)}


async def test_trimming_keeps_every_entry_a_group_has_not_acknowledged(
    client: aioredis.Redis,
) -> None:
    stream = Stream(client, KEYS, "w")
    await stream.ensure_group()
    ids = await _publish(client, 1000)
    held = [e.id for e in await stream.read(600, 50)]  # 600 delivered, 400 never read
    for entry_id in held[:300] + held[400:500]:  # acknowledged, leaving a gap of pending ones
        await stream.ack(entry_id)
    trimmed = await stream.trim(keep=0)
    left = await _left(client)
    assert 0 < trimmed <= 300 and len(left) == 1000 - trimmed  # only below the oldest pending
    unacknowledged = set(held[300:400] + held[500:]) | set(ids[600:])
    assert unacknowledged <= left
    assert await stream.backlog() == 100 + 100 + 400  # pending + never read


async def test_trimming_waits_for_every_consumer_group(client: aioredis.Redis) -> None:
    """Another group (an archiver, say) that has read nothing keeps the whole stream."""
    stream = Stream(client, KEYS, "w")
    await stream.ensure_group()
    await client.xgroup_create(KEYS.updates, "archive", id="0")
    await _publish(client, 500)
    for entry in await stream.read(500, 50):
        await stream.ack(entry.id)
    assert await stream.trim(keep=0) == 0
    assert await stream.backlog() == 500  # the slowest group's
    await client.xgroup_destroy(KEYS.updates, "archive")
    assert await stream.trim(keep=0) > 0
    assert await stream.backlog() == 0


async def test_trimming_starts_once_the_stream_is_longer_than_keep(
    client: aioredis.Redis,
) -> None:
    stream = Stream(client, KEYS, "w")
    await stream.ensure_group()
    await _publish(client, 500)
    for entry in await stream.read(500, 50):
        await stream.ack(entry.id)
    assert await stream.trim(keep=500) == 0
    assert await stream.trim(keep=499) > 0


async def test_backlog_before_any_group_counts_every_entry(client: aioredis.Redis) -> None:
    stream = Stream(client, KEYS)
    assert await stream.backlog() == 0
    await _publish(client, 3)
    assert await stream.backlog() == 3
    assert await stream.trim(keep=0) == 0  # no group has acknowledged anything


async def test_ack_drops_the_entrys_fan_out_state(client: aioredis.Redis) -> None:
    stream = Stream(client, KEYS, "worker-a")
    await stream.ensure_group()
    done = await _ingest(client).publish(Update("u1", "ukraine", headline="One"))
    failed = await _ingest(client).publish(Update("u2", "ukraine", headline="Two"))
    [_, entry] = await stream.read(10, 50)
    assert entry.id == failed.entry_id
    for entry_id in (done.entry_id, failed.entry_id):
        await stream.save_fanout_cursor(entry_id, 42)
        await stream.record_error(entry_id, "RuntimeError: boom")
    assert await stream.fanout_cursor(done.entry_id) == 42
    assert await stream.last_error(done.entry_id) == "RuntimeError: boom"
    await stream.ack(done.entry_id)
    await stream.dead_letter(entry, "gave up")
    for entry_id in (done.entry_id, failed.entry_id):  # nothing left behind either way
        assert await stream.fanout_cursor(entry_id) is None
        assert await stream.last_error(entry_id) is None
    assert await stream.pending_count() == 0
    [dead] = await list_dead_letters(client, KEYS)
    assert (dead.source_id, dead.reason) == (failed.entry_id, "gave up")


async def test_counts_before_any_worker_made_the_group(client: aioredis.Redis) -> None:
    stream = Stream(client, KEYS)
    assert (await stream.length(), await stream.pending_count(), await stream.consumers()) == (
        0, 0, ())  # fmt: skip
    await _ingest(client).publish(Update("u1", "ukraine", headline="One"))
    assert await stream.length() == 1
    reader = Stream(client, KEYS, "worker-a")
    await reader.ensure_group()
    await reader.read(10, 50)
    [consumer] = await stream.consumers()
    assert (consumer.name, consumer.pending) == ("worker-a", 1)
    assert await stream.pending_count() == 1


async def test_reading_needs_a_consumer_name(client: aioredis.Redis) -> None:
    stream = Stream(client, KEYS)
    await stream.ensure_group()
    with pytest.raises(ValueError, match="consumer name"):
        await stream.read(10, 50)
