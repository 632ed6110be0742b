"""Invariant 1: what ingest acknowledged survives a Valkey crash, and work survives a restart."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from relay.backend import EmbeddedValkey
from relay.changes import Changes
from relay.config import Config
from relay.model import Destination, Update

from .helpers import KEYS, Pipeline


@pytest.fixture
def own_valkey() -> Iterator[EmbeddedValkey]:
    """A server of the test's own, which it may kill and restart."""
    directory = Path(tempfile.mkdtemp(prefix="lr-", dir="/tmp"))
    server = EmbeddedValkey(directory)
    server.start()
    with redis.Redis(unix_socket_path=str(server.socket_path)) as admin:
        admin.config_set("appendfsync", "always")  # as the shared one (tests/conftest.py)
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def crash_and_restart(server: EmbeddedValkey) -> None:
    assert server.process is not None and server.pid is not None
    os.kill(server.pid, signal.SIGKILL)  # the server itself: no shutdown, no final fsync
    server.process.wait()  # its keeper exits with it
    server.process = None
    server.start()  # replays the AOF


async def test_an_acknowledged_update_survives_a_valkey_crash(
    own_valkey: EmbeddedValkey, make_config: Callable[..., Config]
) -> None:
    config = make_config(redis={"url": own_valkey.url})
    client = aioredis.Redis.from_url(own_valkey.url)
    world = Pipeline(client, config)
    accepted = [await world.ingest.publish(Update(f"u{i}", "ukraine", headline=f"n{i}"))
                for i in range(50)]  # fmt: skip
    edited = await world.ingest.edit("u49", Changes(headline="corrected"))
    await client.aclose()
    crash_and_restart(own_valkey)  # the instant after the last acknowledgement
    client = aioredis.Redis.from_url(own_valkey.url)
    world = Pipeline(client, config)
    entries = {e.decode() for e, _ in await client.xrange(KEYS.updates)}
    assert {a.entry_id for a in accepted} | {edited.entry_id} <= entries
    latest = await world.ingest.latest("u49")
    assert latest is not None and latest.headline == "corrected" and latest.revision == 2
    await client.aclose()


async def test_deliveries_continue_across_a_valkey_restart(
    own_valkey: EmbeddedValkey, make_config: Callable[..., Config]
) -> None:
    """Valkey restarts mid fan-out: the workers wait for it and every copy arrives once."""
    config = make_config(redis={"url": own_valkey.url},
                         dispatcher={"claim_idle_seconds": 1, "lease_seconds": 1})  # fmt: skip
    client = aioredis.Redis.from_url(own_valkey.url)
    world = Pipeline(client, config)
    dests = [Destination("memory", f"d{i}") for i in range(300)]
    for d in dests:
        await world.subs.subscribe(d, ["ukraine"])
    stop = asyncio.Event()
    await world.dispatcher.stream.ensure_group()
    tasks = [asyncio.create_task(world.dispatcher.run(stop)),
             asyncio.create_task(world.sender.run(stop))]  # fmt: skip
    for i in range(3):
        await world.ingest.publish(Update(f"u{i}", "ukraine", headline=f"n{i}"))
    await world.memory.wait_for(100, "send", within=30)
    assert own_valkey.process is not None
    await asyncio.to_thread(own_valkey.stop)  # a restart: SIGTERM, AOF flushed
    await asyncio.sleep(0.5)  # the workers see Redis gone
    await asyncio.to_thread(own_valkey.start)
    expected = {(d, f"u{i}") for d in dests for i in range(3)}
    async with asyncio.timeout(60):
        while {(c.dest, c.update_id) for c in world.memory.calls} != expected:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*tasks)
    sent = [(c.dest, c.update_id) for c in world.memory.calls if c.op == "send"]
    assert set(sent) == expected
    duplicates = len(sent) - len(set(sent))
    # Only a send in flight when Redis went away can repeat (its ledger write failed).
    assert duplicates <= config.dispatcher.concurrency
    await client.aclose()


async def test_ingest_waits_for_the_fsync_of_the_very_update_it_acknowledges(
    own_valkey: EmbeddedValkey, make_config: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    """Each publish reads the answer of a WAITAOF sent behind its own write: with fsync off,
    every publish, several at once too, finds its fsync unconfirmed and says so; with fsync
    every second, none does. (A WAITAOF on a connection that wrote nothing answers 'fsynced' at
    once: ingest sends it in the pipeline of its last write, so that cannot happen.)"""
    config = make_config(redis={"url": own_valkey.url})
    client = aioredis.Redis.from_url(own_valkey.url)
    world = Pipeline(client, config)
    world.ingest.waitaof_ms = 300
    await client.config_set("appendfsync", "no")
    await asyncio.gather(*(world.ingest.publish(Update(f"n{i}", "ukraine", headline=f"h{i}"))
                           for i in range(4)))  # fmt: skip
    unconfirmed = {
        r.getMessage().split()[0] for r in caplog.records if "not confirmed" in r.message
    }
    assert unconfirmed == {f"update=n{i}" for i in range(4)}
    caplog.clear()
    await client.config_set("appendfsync", "everysec")
    await asyncio.gather(*(world.ingest.publish(Update(f"e{i}", "ukraine", headline=f"h{i}"))
                           for i in range(4)))  # fmt: skip
    assert not [r for r in caplog.records if "not confirmed" in r.getMessage()]
    await client.aclose()
