"""The `redis` section: where the data lives, and how it is spread on a Redis/Valkey Cluster.

`relay.config.Config` holds a `RedisConfig`. With no `url` the embedded Valkey runs (never a
cluster). With `cluster: true`, `url` names one seed node of a Redis/Valkey Cluster
(`redis://host:port`, or `rediss://`): the client finds the others from it. `shards` splits the
ready set, the wake-up channel and the set of destinations in that many keys, each in its own
hash slot, so that no single key carries every delivery (16 on a cluster, 1 otherwise).
`check` holds the rule that spans keys: a cluster needs a TCP URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from redis.connection import parse_url

from relay.errors import ConfigError
from relay.settings import Rule, env_override

DEFAULT_DATA_DIR = Path("~/.local/share/live-relay").expanduser()
CLUSTER_SHARDS = 16
MAX_SHARDS = 1024


def _redis_url(url: str) -> bool:
    """Whether redis-py reads `url` (parsed, never connected to): `redis://[::1` is no URL."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return False
    try:
        parts = parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError:  # a bad IPv6 address or port
        return False
    return bool(parts.get("path")) or not url.startswith("unix://")


RedisUrl = Annotated[
    str | None,
    Rule(
        "a redis://, rediss:// or unix:// URL (or REDIS_URL)",
        test=_redis_url,
        blank=True,
    ),
]
KeyPrefix = Annotated[str, Rule("a string", blank=True)]
Count = Annotated[int, Rule("a positive integer", test=lambda n: n >= 1)]
Shards = Annotated[
    int, Rule(f"an integer from 1 to {MAX_SHARDS}", test=lambda n: 1 <= n <= MAX_SHARDS)
]


@dataclass(frozen=True)
class RedisConfig:
    """Where the data lives: a Redis/Valkey URL (or a cluster's seed node), or the embedded
    Valkey's data directory."""

    url: RedisUrl = field(default=None, repr=False, metadata=env_override("REDIS_URL"))
    cluster: bool = False
    shards: Shards = 0  # absent: CLUSTER_SHARDS on a cluster, else 1 (set below)
    data_dir: Path = DEFAULT_DATA_DIR
    stream_maxlen: Count = 100_000
    max_backlog: Count = 10_000
    key_prefix: KeyPrefix = "relay"

    def __post_init__(self) -> None:
        if not self.shards:
            object.__setattr__(self, "shards", CLUSTER_SHARDS if self.cluster else 1)


def check(path: str, redis: RedisConfig) -> None:
    """The rule no single key checks: a cluster is reached over TCP, from a seed node's URL."""
    if redis.cluster and not (redis.url or "").startswith(("redis://", "rediss://")):
        expected = "a redis:// or rediss:// URL of a node of the cluster, since cluster is true"
        raise ConfigError(path, "redis.url", expected)
