"""On a Redis/Valkey Cluster: writes that must survive a failover reach a replica first.

Replication is asynchronous: a master that dies (its replica promoted in its place) loses what
it had acknowledged and not yet sent to the replica. `WAIT 1 <ms>` answers once one replica has
every write sent *on that connection* so far, so it is queued in the same pipeline as the
writes it covers (a cluster pipeline sends each node's commands on one connection, in order),
on each node those writes went to. Ingest waits so (beside `WAITAOF`) before it answers the
editor, and the dispatcher before it acknowledges a stream entry, so that an update accepted or
fanned out is on two machines.

A node whose replica does not answer in time (it is down, or the master has none) is logged
once and then not waited for during `SKIP_SECONDS`, so that a shard without a replica slows
nothing down: the relay stays available, and a failover of that master could lose the last
writes, as the log line says. On a single server there is nothing to wait for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

log = logging.getLogger(__name__)
TIMEOUT_MS = 1000
SKIP_SECONDS = 10.0


class Replication:
    """Queues `WAIT` behind writes on the nodes that hold them, and reads the answers."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.cluster = isinstance(client, RedisCluster)
        self._skip: dict[str, float] = {}  # node → until when its replica is not waited for

    def wait_in(self, pipe: Any, keys: Iterable[str]) -> list[str]:
        """Queue `WAIT 1` on `pipe` on every node that holds one of `keys` (after the writes
        queued on it before); returns those nodes, to `check` with the last replies."""
        if not self.cluster:
            return []
        cluster: RedisCluster = self.client  # type: ignore[assignment]
        nodes = {n.name: n for n in (cluster.get_node_from_key(k) for k in keys) if n is not None}
        now = time.monotonic()
        waited = [name for name in nodes if self._skip.get(name, 0.0) <= now]
        for name in waited:
            pipe.execute_command("WAIT", 1, TIMEOUT_MS, target_nodes=nodes[name])
        return waited

    def skipping(self, node: str) -> bool:
        """Whether `node`'s replica is not waited for now (it did not confirm lately)."""
        return self._skip.get(node, 0.0) > time.monotonic()

    def check(self, nodes: list[str], replies: list[Any]) -> None:
        """Read `WAIT`'s replies (the last `len(nodes)` of a pipeline's)."""
        for name, acked in zip(nodes, replies[len(replies) - len(nodes) :], strict=True):
            if isinstance(acked, int) and acked >= 1:
                self._skip.pop(name, None)
                continue
            if name not in self._skip:
                log.warning(
                    "no replica of %s confirmed the writes within %d ms: a failover of that "
                    "master now could lose them (not waiting for it again for %gs)",
                    name, TIMEOUT_MS, SKIP_SECONDS,
                )  # fmt: skip
            self._skip[name] = time.monotonic() + SKIP_SECONDS
