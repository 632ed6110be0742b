"""Nothing poisons the pipeline: what cannot be read or served becomes a dead letter, alone."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from relay.adapters.memory import MemoryAdapter
from relay.changes import Changes
from relay.config import Config
from relay.dead_letters import DeadLetter, list_dead_letters
from relay.dispatcher import Dispatcher
from relay.model import Destination, Update
from relay.queues import Queues
from relay.stream import Stream
from relay.subscriptions import Subscriptions

from .helpers import KEYS, Pipeline
from .test_cli import relay_cmd, write_config

A, B, C = (Destination("memory", c) for c in ("a", "b", "c"))
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def world(client: aioredis.Redis, config: Config) -> Pipeline:
    return Pipeline(client, config)


def sent(world: Pipeline) -> list[tuple[str, str]]:
    return [(c.dest.chat_id, c.update_id) for c in world.memory.calls if c.op == "send"]


async def dead(client: aioredis.Redis) -> list[DeadLetter]:
    return list(reversed(await list_dead_letters(client, KEYS)))


async def test_unreadable_entries_do_not_stop_the_dispatcher_also_after_a_restart(
    client: aioredis.Redis, config: Config
) -> None:
    """Issue 11, item 3: a value or field name that is not UTF-8, or JSON nested 100,000 deep,
    crashed the dispatcher's read, and again on every restart (the entries stay pending)."""
    await Subscriptions(client, KEYS).subscribe(A, ["ukraine"])
    await Stream(client, KEYS, "w").ensure_group()
    await client.xadd(KEYS.updates, {"update": b"\xff"})
    await client.xadd(KEYS.updates, {b"\xff": b"x"})
    await client.xadd(KEYS.updates, {"update": DEEP})
    world = Pipeline(client, config)
    await world.ingest.publish(Update("good", "ukraine", headline="Behind the poison"))
    # What a crashed run left: every entry read by consumer "w", none acknowledged.
    await client.xreadgroup(KEYS.group, "w", {KEYS.updates: ">"}, count=10)

    restarted = Dispatcher(client, config, "w")
    stop = asyncio.Event()
    task = asyncio.create_task(restarted.run(stop))
    try:
        async with asyncio.timeout(30):
            # Polled: the dispatcher signals nothing; a crash ends the task, which ends the wait.
            while not task.done() and (  # noqa: ASYNC110
                await restarted.stream.pending_count() or not await restarted.queues.pending(A)
            ):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task  # raises what killed the loop, if anything did
    assert await restarted.queues.pending(A) == ["good"]
    reasons = [d.reason for d in await dead(client)]
    assert reasons == [
        "field 'update' is not UTF-8",
        "a field name is not UTF-8: '\\\\xff'",
        "unparseable update: update: not valid JSON: nested too deeply",
    ]
    assert (await dead(client))[0].payload == "\\xff"  # kept for the operator, as text


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        # What `PATCH {"breaking": "yes"}` stored before edits were validated (issue 11, item 1).
        ('{"id":"u1","topic":"ukraine","headline":"h","breaking":"yes"}', "breaking: must be"),
        ("{truncated", "not valid JSON"),
        (DEEP, "nested too deeply"),
        (b"\xff\xfe", "not valid JSON"),
    ],
    ids=["invalid-field", "truncated-json", "nested-100000-deep", "not-utf8"],
)
async def test_a_stored_update_that_no_longer_decodes_is_dead_lettered_and_the_queue_moves_on(
    world: Pipeline, client: aioredis.Redis, stored: str | bytes, expected: str
) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Broken later"))
    await world.ingest.publish(Update("u2", "ukraine", headline="Behind it"))
    await client.hset(KEYS.update("u1"), "json", stored)
    await world.drain(within=15)
    assert sent(world) == [("a", "u2")]
    [letter] = await dead(client)
    assert (letter.source_id, letter.destination) == ("u1", "memory:a")
    assert letter.reason.startswith("stored data cannot be read: ")
    assert expected in letter.reason
    assert await world.queues.pending(A) == []


async def test_an_unreadable_ledger_copy_is_dead_lettered_and_the_queue_moves_on(
    world: Pipeline, client: aioredis.Redis
) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Sent"))
    await world.drain()
    await client.hset(KEYS.ledger("u1"), "memory:a", '{"rev": "one"}')
    await world.ingest.edit("u1", Changes(headline="Corrected"))
    await world.ingest.publish(Update("u2", "ukraine", headline="Next"))
    await world.drain(within=15)
    assert sent(world) == [("a", "u1"), ("a", "u2")]
    [letter] = await dead(client)
    assert letter.reason.startswith("stored data cannot be read: a ledger copy cannot be read")


class Buggy(MemoryAdapter):
    """An adapter with a bug for one update: it raises what no `DeliveryError` names."""

    async def send(
        self, dest: Destination, update: Update, topic: object, **kw: Any
    ) -> tuple[str, ...]:
        if update.id == "u1":
            raise RuntimeError("adapter bug")
        return await super().send(dest, update, topic, **kw)  # type: ignore[arg-type]


async def test_a_job_that_fails_unexpectedly_is_retried_then_dead_lettered(
    client: aioredis.Redis, config: Config
) -> None:
    """Before: "serving failed" forever, and every job behind it waited (issue 11, item 1)."""
    buggy = Buggy()
    world = Pipeline(client, config, adapters=[buggy])
    world.memory = buggy
    await world.subs.subscribe(A, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Hits the bug"))
    await world.ingest.publish(Update("u2", "ukraine", headline="Behind it"))
    await world.drain(within=20)
    assert sent(world) == [("a", "u2")]
    [letter] = await dead(client)
    assert letter.reason == "gave up after 3 attempts: RuntimeError: adapter bug"  # max_attempts
    assert letter.source_id == "u1"


async def test_one_bad_subscriber_is_dead_lettered_alone_and_the_fan_out_goes_on(
    world: Pipeline, client: aioredis.Redis
) -> None:
    """Issue 11, item 6: `console:` in a topic's set failed every fan-out of the topic, whole,
    and held an unrelated topic until that entry was dead-lettered (51 s)."""
    for dest in (A, B):
        await world.subs.subscribe(dest, ["ukraine"])
    await world.subs.subscribe(C, ["climate"])
    bad = [b"console:", b"\xff\xfe:x", b"no-colon", b"a::b"]
    await client.sadd(KEYS.topic_subscribers("ukraine"), *bad)
    await client.sadd(KEYS.destinations(), *bad)
    await world.ingest.publish(Update("u1", "ukraine", headline="To the good ones"))
    await world.ingest.publish(Update("u2", "climate", headline="Not held"))
    await world.fan_out()  # one pass: nothing is left pending for a claim much later
    assert await world.dispatcher.stream.pending_count() == 0
    letters = await dead(client)
    assert sorted(d.destination for d in letters) == ["\\xff\\xfe:x", "a::b", "console:",
                                                       "no-colon"]  # fmt: skip
    by_dest = {d.destination: d.reason for d in letters}
    assert by_dest["console:"].startswith(
        "subscriber 'console:' of topic 'ukraine': no destination ("
    )
    assert by_dest["console:"].endswith("); unsubscribed")
    assert by_dest["\\xff\\xfe:x"].endswith(": not UTF-8; unsubscribed")
    assert {d.source_id for d in letters} == {"u1"}
    members = await client.smembers(KEYS.topic_subscribers("ukraine"))
    assert members == {b"memory:a", b"memory:b"}
    assert not await client.sismember(KEYS.destinations(), b"console:")
    await world.drain()
    assert sorted(sent(world)) == [("a", "u1"), ("b", "u1"), ("c", "u2")]
    await world.ingest.publish(Update("u3", "ukraine", headline="No dead letter again"))
    await world.drain()
    assert len(await dead(client)) == 4


async def test_a_subscriber_on_an_unknown_platform_is_dead_lettered_alone(
    world: Pipeline, client: aioredis.Redis
) -> None:
    """`a:b`: no adapter serves platform `a`. It alone is dead-lettered (at fan-out, or at its
    job where the destination parser accepts any platform name)."""
    await world.subs.subscribe(A, ["ukraine"])
    await client.sadd(KEYS.topic_subscribers("ukraine"), "a:b")
    await world.ingest.publish(Update("u1", "ukraine", headline="One"))
    await world.ingest.publish(Update("u2", "ukraine", headline="Two"))
    await world.drain()
    assert sent(world) == [("a", "u1"), ("a", "u2")]
    letters = await dead(client)
    assert {d.destination for d in letters} == {"a:b"}
    assert all("'a'" in d.reason for d in letters), letters


async def test_an_unreadable_ready_member_is_dropped_and_blocks_no_worker(
    client: aioredis.Redis,
) -> None:
    queues = Queues(client, KEYS)
    await client.zadd(KEYS.ready(), {b"\xff": 0, b"console:": 0, b"memory:a": 0})
    assert await queues.ready.due(10) == [A]
    assert await client.zrange(KEYS.ready(), 0, -1) == [b"memory:a"]


async def test_dead_letters_that_are_not_utf8_can_still_be_listed(client: aioredis.Redis) -> None:
    await client.xadd(KEYS.dead_letters, {"reason": b"\xff", "failed_at": "soon", b"\xfe": "x"})
    [letter] = await dead(client)
    assert (letter.reason, letter.failed_at) == ("\\xff", 0.0)


async def test_relay_run_survives_poison_entries_and_delivers_what_follows(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    """As an operator meets it: `relay run` with poison in the stream keeps serving."""
    await Stream(client, KEYS, "w").ensure_group()
    await client.xadd(KEYS.updates, {"update": b"\xff"})
    await client.xadd(KEYS.updates, {b"\xff": b"x"})
    await client.xadd(KEYS.updates, {"update": DEEP})
    await client.sadd(KEYS.topic_subscribers("ukraine"), "console:")
    cfg = write_config(
        tmp_path / "r.yaml",
        redis={"url": config.redis.url},
        channels=[{"destination": "console:newsroom", "topics": ["ukraine"]}],
    )
    out = (tmp_path / "run.out").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay.cli", "--config", str(cfg), "run", "--consumer", "w",
        stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        posted = await asyncio.to_thread(
            relay_cmd, "--config", str(cfg), "post", "--topic", "ukraine",
            "--headline", "Still serving",
        )  # fmt: skip
        assert posted.returncode == 0, posted.stderr
        async with asyncio.timeout(60):
            while "Still serving" not in (tmp_path / "run.out").read_text(errors="replace"):
                assert proc.returncode is None, (tmp_path / "run.out").read_text(errors="replace")
                await asyncio.sleep(0.2)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        out.close()
    assert proc.returncode == 0
    reasons = [d.reason for d in await dead(client)]
    assert len(reasons) == 4, reasons
    assert any(r.startswith("subscriber 'console:' of topic 'ukraine'") for r in reasons)


async def test_a_pending_entry_deleted_from_the_stream_is_a_dead_letter(
    client: aioredis.Redis, config: Config
) -> None:
    """XDEL of an entry a worker held: after its restart the read gives no fields at all."""
    await Stream(client, KEYS, "w").ensure_group()
    entry_id = (await client.xadd(KEYS.updates, {"update": "{}"})).decode()
    await client.xreadgroup(KEYS.group, "w", {KEYS.updates: ">"}, count=10)
    await client.xdel(KEYS.updates, entry_id)
    restarted = Dispatcher(client, config, "w")
    for entry in await restarted.stream.read(10, 20):
        await restarted.process(entry)
    [letter] = await dead(client)
    assert (letter.source_id, letter.reason) == (
        entry_id, "the entry was deleted before it was fanned out")  # fmt: skip
    assert await restarted.stream.pending_count() == 0
