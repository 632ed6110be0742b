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
from redis.exceptions import RedisError

from relay import logs
from relay import metrics as metrics_mod
from relay.keys import Keys
from relay.stream import Stream

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

    @property
    def component(self) -> str:
        """Its name among the components: the platform, or `platform:bot` among several."""
        ...

    async def health(self) -> Health:
        """Whether the platform is connected now."""


async def redis_health(client: aioredis.Redis) -> Health:
    try:
        async with asyncio.timeout(REDIS_WITHIN):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return Health(False, {"error": logs.mask(str(exc) or type(exc).__name__)})
    return Health(True)


async def readiness(
    client: aioredis.Redis, keys: Keys, adapters: Iterable[Reporter], max_lag: float
) -> tuple[bool, dict[str, Any]]:
    """Whether this worker can deliver now, and each component's detail; sets the gauges."""
    components: dict[str, Health] = {"redis": await redis_health(client)}
    for adapter in adapters:
        try:
            async with asyncio.timeout(REDIS_WITHIN * 3):
                components[adapter.component] = await adapter.health()
        except Exception as exc:  # a check that fails says the platform is not usable now
            detail = {"error": logs.mask(str(exc) or type(exc).__name__)}
            components[adapter.component] = Health(False, detail)
    lag: float | None = None
    if components["redis"].up:
        try:
            lag = await Stream(client, keys).lag_seconds()
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
