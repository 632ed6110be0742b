"""A master of the cluster SIGKILLed mid fan-out, its replica promoted: what the relay promises.

Real `relay run` workers deliver to 2,000 console destinations (one printed line per send or
edit, which is what this test counts) on a cluster of its own (tests/cluster.py), and the master
that holds the updates stream dies while they work. The guarantee (docs/operations.md, "Redis
Cluster"): nothing accepted is lost, and only sends whose bookkeeping had not reached the
replica repeat, at most one per delivery in flight.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from relay.changes import Changes
from relay.ingest import Ingest
from relay.keys import Keys
from relay.ledger import Ledger
from relay.model import Destination, Update
from relay.ready import Ready
from relay.subscriptions import Subscriptions

from .cluster import Cluster
from .conftest import running_cluster
from .test_chaos import Workers, settled
from .test_cli import write_config

pytestmark = pytest.mark.cluster
DESTINATIONS = 2000
CONCURRENCY = 32


async def _state(client: RedisCluster, keys: Keys, workers: Workers) -> str:
    """What is left when the relay did not settle, to say why."""
    pending = await client.xpending(keys.updates, keys.group)
    waiting = await Ready(client, keys).waiting()  # type: ignore[arg-type]
    due = await Ready(client, keys).turns(5)  # type: ignore[arg-type]
    sent = {(d, u) for op, d, u, _ in workers.lines() if op == "→"}
    return f"pending={pending} waiting={waiting} due={due} sent={len(sent)}"


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster for this test alone: it loses a node."""
    yield from running_cluster()


@pytest.mark.parametrize("victim", ["stream", "other"])
async def test_a_master_killed_mid_fan_out_loses_nothing_and_repeats_only_in_flight_sends(
    tmp_path: Path, own_cluster: Cluster, victim: str
) -> None:
    """`victim`: the master of the updates stream (ingest and fan-out wait for its failover),
    or another one (a third of the queues, ready shards and ledgers are on it)."""
    keys = Keys("relay", 16)
    cfg = write_config(
        tmp_path / "r.yaml",
        redis={"url": own_cluster.seed, "cluster": True},
        dispatcher={"claim_idle_seconds": 1, "lease_seconds": 1, "concurrency": CONCURRENCY},
    )
    client = RedisCluster.from_url(own_cluster.seed)
    workers = Workers(cfg, tmp_path)
    try:
        dests = [Destination("console", f"d{i}") for i in range(DESTINATIONS)]
        subs = Subscriptions(client, keys)  # type: ignore[arg-type]
        for i in range(0, DESTINATIONS, 50):
            await asyncio.gather(*(subs.subscribe(d, ["ukraine"]) for d in dests[i : i + 50]))
        ingest = Ingest(client, keys, ["ukraine", "climate"], 10_000)  # type: ignore[arg-type]
        for i in range(3):
            await ingest.publish(Update(f"u{i}", "ukraine", headline=f"Update {i}"))
        workers.start("a")
        workers.start("b")
        async with asyncio.timeout(60):  # the first sends: the fan-out is under way
            while len(workers.lines()) < 200:  # noqa: ASYNC110 - the state is in the output
                await asyncio.sleep(0.05)
        stream_master = own_cluster.master_of(key_slot(keys.updates.encode()))
        others = [m for m in own_cluster.masters() if m is not stream_master]
        await asyncio.to_thread(
            own_cluster.kill_master, stream_master if victim == "stream" else others[0]
        )
        # The promoted replica takes edits and new updates.
        await ingest.edit("u0", Changes(headline="Update 0, corrected"))
        await ingest.publish(Update("u3", "ukraine", headline="Update 3"))
        try:
            async with asyncio.timeout(120):
                while not await settled(client, keys):  # type: ignore[arg-type]  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
        except TimeoutError:
            raise AssertionError(await _state(client, keys, workers)) from None
    finally:
        workers.stop()  # both exit 0: they rode out the failover
        copies = await Ledger(client, keys, 3600).copies("u0")  # type: ignore[arg-type]
        await client.aclose()

    sends = Counter((dest, update) for op, dest, update, _ in workers.lines() if op == "→")
    expected = {(str(d), f"u{i}") for d in dests for i in range(4)}
    assert set(sends) == expected  # nothing lost
    repeats = sum(n - 1 for n in sends.values())
    assert repeats <= 2 * CONCURRENCY, f"{repeats} repeated sends"  # in flight in 2 workers
    assert len(copies) == DESTINATIONS
    assert {c.revision for c in copies.values()} == {2}  # every copy shows the correction
