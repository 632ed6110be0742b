"""Prometheus metrics: what this process did, and the shared queue state read at each scrape."""

from __future__ import annotations

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from relay.dead_letters import DeadLetters
from relay.keys import Keys
from relay.ready import Ready
from relay.stream import UNREACHABLE, Stream

REGISTRY = CollectorRegistry()

UPDATES = Counter(
    "relay_updates_accepted", "Updates accepted by ingest", ["action"], registry=REGISTRY
)
DELIVERIES = Counter(
    "relay_deliveries",
    "Outcomes of delivery jobs served by this process",
    ["platform", "outcome"],
    registry=REGISTRY,
)
CALL_SECONDS = Histogram(
    "relay_platform_call_seconds",
    "Time of each send, edit or delete call to a platform",
    ["platform", "op"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
LATE_CALLS = Counter(
    "relay_budget_late_calls",
    "Calls that woke too late for their reserved slot on the bot's budget and took its next one",
    ["platform"],
    registry=REGISTRY,
)
ARRIVAL_WAITS = Counter(
    "relay_arrival_wait_seconds",
    "Seconds calls were held so that no more than the bot's limit can arrive in a second "
    "(relay/arrivals.py): the cost of calls that arrived late, e.g. on new connections",
    ["platform"],
    registry=REGISTRY,
)
FANNED_OUT = Counter(
    "relay_fanout_destinations",
    "Delivery jobs queued by this process's fan-outs",
    registry=REGISTRY,
)
STREAM_LENGTH = Gauge("relay_stream_entries", "Entries in the updates stream", registry=REGISTRY)
PENDING = Gauge(
    "relay_stream_pending", "Entries read by a worker and not yet fanned out", registry=REGISTRY
)
WAITING = Gauge(
    "relay_destinations_waiting", "Destinations with deliveries queued", registry=REGISTRY
)
DEAD = Gauge("relay_dead_letters", "Entries in the dead-letter stream", registry=REGISTRY)
COMPONENT_UP = Gauge(
    "relay_component_up",
    "1 while a component this worker needs is up (redis, a platform, stream), as /readyz says",
    ["component"],
    registry=REGISTRY,
)
STREAM_LAG = Gauge(
    "relay_stream_lag_seconds",
    "How long the oldest update not yet fanned out has waited",
    registry=REGISTRY,
)


async def render(client: aioredis.Redis, keys: Keys) -> bytes:
    """The exposition text, with the shared gauges read from Redis now (through their owners).

    With Redis away they keep their last values: `relay_component_up{component="redis"}` says so.
    """
    stream = Stream(client, keys)
    try:
        async with client.pipeline(transaction=False) as pipe:
            stream.length_in(pipe)
            shards = Ready(client, keys).waiting_in(pipe)
            DeadLetters(client, keys).count_in(pipe)
            length, *counts, dead = await pipe.execute()
            waiting = sum(counts[:shards])
        pending = await stream.pending_count()
    except UNREACHABLE:
        return generate_latest(REGISTRY)
    STREAM_LENGTH.set(length)
    WAITING.set(waiting)
    DEAD.set(dead)
    PENDING.set(pending)
    return generate_latest(REGISTRY)
