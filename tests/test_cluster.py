"""The relay on a real Valkey Cluster (3 masters, 3 replicas; tests/cluster.py)."""

from __future__ import annotations

import pytest
from redis.asyncio.cluster import RedisCluster

from tests.cluster import Cluster

pytestmark = pytest.mark.cluster


async def test_the_test_cluster_serves_every_slot_from_three_masters(
    valkey_cluster: Cluster,
) -> None:
    client = RedisCluster.from_url(valkey_cluster.seed)
    try:
        for i in range(30):
            await client.set(f"probe:{i}", i)
        assert [int(await client.get(f"probe:{i}")) for i in range(30)] == list(range(30))
        assert len(client.get_primaries()) == 3
        masters = valkey_cluster.masters()
        assert len(masters) == 3
        assert all(valkey_cluster.replica_of(m).alive for m in masters)
    finally:
        await client.delete(*[f"probe:{i}" for i in range(30)])
        await client.aclose()
