"""Fan-out and delivery semantics: once per revision, order, merges, failures, digests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from relay.changes import Changes
from relay.config import Config
from relay.dead_letters import list_dead_letters
from relay.dispatcher import TakenOver
from relay.entries import Entry
from relay.errors import Gone, Moved, RateLimited, Rejected, Transient
from relay.ingest import Accepted
from relay.ledger import read_progress
from relay.model import Destination, Update

from .conftest import BACKINGS
from .helpers import KEYS, Pipeline

A, B, C = (Destination("memory", c) for c in ("a", "b", "c"))


@pytest.fixture(params=BACKINGS)
def backing(request: pytest.FixtureRequest) -> str:
    """Every test here runs on the single server, and on the cluster with `-m cluster`."""
    return str(request.param)


@pytest.fixture
def world(client: aioredis.Redis, config: Config) -> Pipeline:
    return Pipeline(client, config)


def sends(world: Pipeline, op: str = "send") -> list[tuple[str, str, int]]:
    return [(c.dest.chat_id, c.update_id, c.revision) for c in world.memory.calls if c.op == op]


async def test_fan_out_to_every_subscriber_once(world: Pipeline) -> None:
    for dest in (A, B, C):
        await world.subs.subscribe(dest, ["ukraine"])
    await world.subs.subscribe(C, ["climate"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Talks resume"))
    await world.ingest.publish(Update("u2", "climate", headline="Pledge"))
    await world.drain()
    assert sorted(sends(world)) == [("a", "u1", 1), ("b", "u1", 1), ("c", "u1", 1), ("c", "u2", 1)]
    progress = await read_progress(world.client, KEYS, "u1")
    assert progress is not None and progress.done
    assert progress.summary() == "delivered 3 / 3 · 0 failed (done)"


async def test_reprocessing_an_entry_repeats_nothing(world: Pipeline) -> None:
    """Redelivered after a crash before XACK: the queue merges, the ledger skips."""
    for dest in (A, B):
        await world.subs.subscribe(dest, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Once"))
    await world.dispatcher.stream.ensure_group()
    [entry] = await world.dispatcher.stream.read(10, 20)
    await world.dispatcher.process(entry)
    await world.dispatcher.process(entry)
    assert await world.queues.pending(A) == ["u1"]
    await world.drain()
    await world.dispatcher.process(entry)  # and again after it was sent
    await world.drain()
    assert len(sends(world)) == 2


async def big_fan_out(world: Pipeline) -> tuple[list[Destination], Accepted, Entry]:
    """300 subscribers of `ukraine`, an update published to them, and its entry read by the
    world's dispatcher (not yet fanned out)."""
    # More than 128 members: a listpack-encoded small set would come back in one SSCAN page.
    dests = [Destination("memory", f"d{i}") for i in range(300)]
    for d in dests:
        await world.subs.subscribe(d, ["ukraine"])
    accepted = await world.ingest.publish(Update("u1", "ukraine", headline="Big fan-out"))
    await world.dispatcher.stream.ensure_group()
    [entry] = await world.dispatcher.stream.read(10, 20)
    return dests, accepted, entry


async def test_a_crashed_fan_out_resumes_at_its_cursor(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> None:
    config = make_config(dispatcher={"batch_size": 1})
    world = Pipeline(client, config)
    dests, accepted, entry = await big_fan_out(world)
    # The worker dies after queuing 20 batches: what it leaves is a saved cursor, 20 queued
    # destinations and an unacknowledged entry.
    pages = world.dispatcher._batches(entry, accepted.update)
    for _ in range(20):
        batch = await anext(pages)
        await world.queues.enqueue(batch, "u1", entry.id)
    await pages.aclose()
    assert await client.hget(KEYS.fanout_cursors, entry.id) not in (None, b"0")
    assert (await client.xpending(KEYS.updates, KEYS.group))["pending"] == 1
    on: dict[str, Any] = {}  # on a cluster: the node that holds the topic's subscribers
    if isinstance(client, RedisCluster):
        on["target_nodes"] = client.get_node_from_key(KEYS.topic_subscribers("ukraine"))
    await client.config_resetstat(**on)
    await world.dispatcher.process(entry)  # redelivered: resumes from the cursor
    resumed_pages = (await client.info("commandstats", **on))["cmdstat_sscan"]["calls"]
    await client.config_resetstat(**on)
    [_ async for _ in world.subs.destinations("ukraine", batch=1)]
    full_pages = (await client.info("commandstats", **on))["cmdstat_sscan"]["calls"]
    assert resumed_pages < full_pages  # it did not start the scan over
    await world.drain()
    assert sorted(d for d, _, _ in sends(world)) == sorted(d.chat_id for d in dests)
    assert (await client.xpending(KEYS.updates, KEYS.group))["pending"] == 0


async def test_a_worker_that_stalled_leaves_its_claimed_fan_out_to_the_other(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> None:
    """A long fan-out holds its entry (its idle time stays under the claim time, no delivery
    counted); once another worker has claimed it all the same (the first stalled), the first
    stops at its next batch without acknowledging, and the other finishes from the cursor."""
    config = make_config(dispatcher={"batch_size": 1, "claim_idle_seconds": 0.001})
    first, other = Pipeline(client, config, worker="w1"), Pipeline(client, config, worker="w2")
    dests, accepted, entry = await big_fan_out(first)
    pages = first.dispatcher._batches(entry, accepted.update)
    for _ in range(20):
        await first.queues.enqueue(await anext(pages), "u1", entry.id)
        await asyncio.sleep(0.001)  # past a quarter of the claim time: each batch holds it
    [row] = await client.xpending_range(KEYS.updates, KEYS.group, min="-", max="+", count=1)
    assert (row["consumer"], row["times_delivered"]) == (b"w1", 1)
    assert row["time_since_delivered"] < 100
    [claimed] = await other.dispatcher.stream.claim(0, 10)  # w1 stalled; w2 took it
    with pytest.raises(TakenOver):
        await anext(pages)
    await pages.aclose()
    await first.dispatcher.process(entry)  # its own entry no more: stops, acknowledges nothing
    assert (await client.xpending(KEYS.updates, KEYS.group))["pending"] == 1
    await other.dispatcher.process(claimed)
    assert (await client.xpending(KEYS.updates, KEYS.group))["pending"] == 0
    await other.drain()
    assert sorted(d for d, _, _ in sends(other)) == sorted(d.chat_id for d in dests)
    assert await list_dead_letters(client, KEYS) == []


async def test_edits_and_deletes_reach_every_copy_and_only_copies(world: Pipeline) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    await world.subs.subscribe(B, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Short"))
    await world.drain()
    await world.subs.subscribe(C, ["ukraine"])  # subscribed after: no backlog, no edit
    long_body = "A longer body that needs several parts at forty characters each."
    await world.ingest.edit("u1", Changes(headline="Corrected", body=long_body))
    await world.drain()
    for dest in (A, B):
        text = "".join(world.memory.texts(dest))
        assert "Corrected" in text and "several parts" in text
        assert len(world.memory.texts(dest)) > 1  # parts were added on edit
    assert world.memory.texts(C) == []
    await world.ingest.edit("u1", Changes(body=""))
    await world.drain()
    assert len(world.memory.texts(A)) == 1  # surplus parts deleted when it shrank
    await world.ingest.delete("u1")
    await world.drain()
    assert world.memory.texts(A) == [] and world.memory.texts(B) == []
    assert [c.op for c in world.memory.calls if c.dest == A] == ["send", "edit", "edit", "delete"]


async def test_an_edit_of_a_queued_update_replaces_it(world: Pipeline) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="First draft"))
    await world.ingest.edit("u1", Changes(headline="Second draft"))
    await world.ingest.edit("u1", Changes(headline="Final"))
    await world.drain()
    assert sends(world) == [("a", "u1", 3)]  # only the latest revision, sent once
    assert sends(world, "edit") == []
    assert world.memory.texts(A)[0].startswith("[War in Ukraine] Final")


async def test_an_edit_merged_into_the_job_being_served_is_counted_once(world: Pipeline) -> None:
    """A worker reads the head job, then the update it names; an edit fanned out between the
    two merges into that job. The worker sends the edit's revision and leaves the job (merged);
    served again, the copy is up to date. That second serving must not count the destination
    a second time: the fan-out would say "done" while others still wait."""
    for dest in (A, B):
        await world.subs.subscribe(dest, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="First draft"))
    await world.fan_out()
    syncer = world.sender.syncer
    stale = await world.queues.head(A)  # the head, as the worker read it
    assert stale is not None
    await world.ingest.edit("u1", Changes(headline="Final"))
    await world.fan_out()  # the edit merges into A's job (and B's)
    await syncer._serve(A, stale, None, None)  # sends revision 2; the merged job stays
    assert sends(world) == [("a", "u1", 2)]
    assert await world.queues.pending(A) == ["u1"]
    assert await syncer.step(A) == 0.0  # served again: up to date, popped
    assert await world.queues.pending(A) == []
    assert sends(world) == [("a", "u1", 2)]
    progress = await read_progress(world.client, KEYS, "u1")
    assert progress is not None
    assert (progress.revision, progress.delivered, progress.total) == (2, 1, 2)
    assert not progress.done  # B's copy is still to come
    await world.drain()
    progress = await read_progress(world.client, KEYS, "u1")
    assert progress is not None and progress.summary() == "delivered 2 / 2 · 0 failed (done)"


async def test_a_delete_of_a_queued_update_cancels_it(world: Pipeline) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Withdrawn"))
    await world.ingest.delete("u1")
    await world.drain()
    assert world.memory.calls == []


async def test_order_per_destination_is_stream_order(world: Pipeline) -> None:
    await world.subs.subscribe(A, ["ukraine", "climate"])
    for i in range(1, 6):
        await world.ingest.publish(Update(f"u{i}", "ukraine" if i % 2 else "climate",
                                          headline=f"Update {i}"))  # fmt: skip
    await world.ingest.edit("u1", Changes(headline="Update 1, corrected"))
    await world.drain()
    assert [u for _, u, _ in sends(world)] == ["u1", "u2", "u3", "u4", "u5"]
    assert sends(world)[0] == ("a", "u1", 2)  # the edit merged into its original


async def test_gone_unsubscribes_drops_the_queue_and_others_still_receive(world: Pipeline) -> None:
    for dest in (A, B):
        await world.subs.subscribe(dest, ["ukraine", "climate"])
    world.memory.fail_next(A, Gone("Forbidden: bot was blocked by the user"))
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.ingest.publish(Update("u2", "ukraine", headline="h2"))
    await world.drain()
    assert await world.subs.topics(A) == [] and await world.queues.pending(A) == []
    assert [d for d, _, _ in sends(world)] == ["b", "b"]
    [dead] = await list_dead_letters(world.client, KEYS)
    assert dead.destination == "memory:a"
    assert dead.reason == (
        "gone, unsubscribed from climate,ukraine: Forbidden: bot was blocked by the user"
    )
    progress = await read_progress(world.client, KEYS, "u1")
    assert progress is not None and (progress.delivered, progress.failed) == (1, 1)


async def test_moved_rekeys_the_subscription_and_resends(world: Pipeline) -> None:
    old = Destination("memory", "-5")
    await world.subs.subscribe(old, ["ukraine"])
    world.memory.fail_next(old, Moved("-1005", "group upgraded"))
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.drain()
    new = Destination("memory", "-1005")
    assert await world.subs.topics(new) == ["ukraine"] and await world.subs.topics(old) == []
    assert [c.dest for c in world.memory.calls] == [new]
    await world.ingest.edit("u1", Changes(headline="edited"))
    await world.drain()
    assert [(c.op, c.dest) for c in world.memory.calls] == [("send", new), ("edit", new)]


async def test_rejected_goes_to_dead_letters_without_retry(world: Pipeline) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    world.memory.fail_next(A, Rejected("Bad Request: can't parse entities"))
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.drain()
    [dead] = await list_dead_letters(world.client, KEYS)
    assert (dead.destination, dead.reason) == ("memory:a", "Bad Request: can't parse entities")
    assert dead.source_id == "u1"
    assert world.memory.calls == []
    assert await world.subs.topics(A) == ["ukraine"]


async def test_transient_and_rate_limits_are_retried(world: Pipeline) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    world.memory.fail_next(A, Transient("502 Bad Gateway"), RateLimited(0.05))
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.drain()
    assert [c.op for c in world.memory.calls] == ["send"]


async def test_gives_up_after_max_attempts(world: Pipeline) -> None:
    await world.subs.subscribe(A, ["ukraine"])
    await world.subs.subscribe(B, ["ukraine"])
    world.memory.fail_next(A, *(Transient(f"timeout {i}") for i in range(3)))  # max_attempts=3
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.ingest.publish(Update("u2", "ukraine", headline="next"))
    await world.drain()
    [dead] = await list_dead_letters(world.client, KEYS)
    assert dead.reason == "gave up after 3 attempts: timeout 2"
    assert sorted(sends(world)) == [("a", "u2", 1), ("b", "u1", 1), ("b", "u2", 1)]


async def test_destination_without_adapter_is_a_dead_letter(world: Pipeline) -> None:
    await world.subs.subscribe(Destination("discord", "9"), ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="h"))
    await world.drain()
    [dead] = await list_dead_letters(world.client, KEYS)
    assert "no adapter for platform 'discord'" in dead.reason


async def test_a_far_behind_destination_gets_a_digest(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> None:
    world = Pipeline(client, make_config(dispatcher={"digest_threshold": 3}))
    await world.subs.subscribe(A, ["ukraine"])
    for i in range(1, 8):
        await world.ingest.publish(Update(f"u{i}", "ukraine", headline=f"Headline {i}",
                                          link=f"https://example.org/{i}"))  # fmt: skip
    await world.drain()
    [digest, last] = [c for c in world.memory.calls if c.op == "send"]
    assert digest.update_id == "digest-u1" and last.update_id == "u7"  # the newest in full
    digest_text = "".join(world.memory.messages[A][i] for i in digest.message_ids)
    assert digest_text.startswith("[War in Ukraine] 6 more updates")
    for i in range(1, 7):
        # Plain text shows each line's link as the memory adapter renders any link.
        assert f"War in Ukraine: Headline {i} Read (https://example.org/{i})" in digest_text
    await world.ingest.edit("u2", Changes(headline="edited later"))
    await world.drain()
    assert sends(world, "edit") == []  # a digest line is not edited into a full message
