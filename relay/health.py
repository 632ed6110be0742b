"""Liveness and readiness: what `/healthz` and `/readyz` answer, and the gauges they set.

Alive (`/healthz`): every part of `relay run` still runs. Ready (`/readyz`): this worker can
deliver now: Redis answers, each enabled platform is connected (its adapter's `health`), and
the oldest update not yet fanned out waited less than `api.ready_max_lag` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from relay import logs
from relay import metrics as metrics_mod
from relay.keys import Keys, as_str

log = logging.getLogger(__name__)
REDIS_WITHIN = 2.0  # seconds a PING (or a platform's check) may take before it counts as down


@dataclass(frozen=True)
class Health:
    """One component's state: up or not, with what explains it (JSON-able)."""

    up: bool
    detail: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"up": self.up, **self.detail}


class Reporter(Protocol):
    """A platform adapter, as readiness sees it."""

    platform: str

    async def health(self) -> Health:
        """Whether the platform is connected now."""


async def redis_health(client: aioredis.Redis) -> Health:
    try:
        async with asyncio.timeout(REDIS_WITHIN):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return Health(False, {"error": logs.mask(str(exc) or type(exc).__name__)})
    return Health(True)


async def stream_lag(client: aioredis.Redis, keys: Keys) -> float:
    """Seconds the oldest entry not yet fanned out has waited (pending, or not yet read)."""
    try:
        groups: Any = await client.xinfo_groups(keys.updates)
        pending: Any = await client.xpending(keys.updates, keys.group)
    except ResponseError:  # no stream or no group yet: nothing waits
        return 0.0
    group = next((g for g in groups if as_str(g["name"]) == keys.group), None)
    oldest = [as_str(pending["min"])] if pending and pending.get("min") else []
    if group is not None:
        after: Any = await client.xrange(keys.updates, f"({as_str(group['last-delivered-id'])}",
                                    "+", count=1)  # fmt: skip
        oldest += [as_str(entry_id) for entry_id, _ in after]
    if not oldest:
        return 0.0
    seconds, micros = await client.time()
    first_ms = min(int(entry_id.split("-")[0]) for entry_id in oldest)
    return max(0.0, round(seconds + micros / 1e6 - first_ms / 1000, 3))


async def readiness(
    client: aioredis.Redis, keys: Keys, adapters: Iterable[Reporter], max_lag: float
) -> tuple[bool, dict[str, Any]]:
    """Whether this worker can deliver now, and each component's detail; sets the gauges."""
    components: dict[str, Health] = {"redis": await redis_health(client)}
    for adapter in adapters:
        try:
            async with asyncio.timeout(REDIS_WITHIN * 3):
                components[adapter.platform] = await adapter.health()
        except Exception as exc:  # a check that fails says the platform is not usable now
            detail = {"error": logs.mask(str(exc) or type(exc).__name__)}
            components[adapter.platform] = Health(False, detail)
    lag: float | None = None
    if components["redis"].up:
        try:
            lag = await stream_lag(client, keys)
        except (RedisError, OSError) as exc:
            log.debug("stream lag unknown: %s", exc)
    stream = Health(lag is not None and lag <= max_lag, {"lag": lag, "max": max_lag})
    components["stream"] = stream
    for name, health in components.items():
        metrics_mod.COMPONENT_UP.labels(component=name).set(1 if health.up else 0)
    if lag is not None:
        metrics_mod.STREAM_LAG.set(lag)
    ready = all(h.up for h in components.values())
    return ready, {name: h.as_json() for name, h in components.items()}
