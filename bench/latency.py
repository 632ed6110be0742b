"""Ingest → first delivery latency at low load (in-process memory adapter, real Valkey).

Usage: python -m bench.latency [--updates 100]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.harness import make_config, median, percentile, relays, report, valkey
from relay.adapters.memory import MemoryAdapter
from relay.model import Destination, Update


async def measure(url: str, destinations: int, updates: int) -> list[float]:
    memory = MemoryAdapter()
    config = make_config(url)
    latencies: list[float] = []
    async with relays(config, [memory]) as [relay]:
        await relay.client.flushall()
        await relay.dispatcher.stream.ensure_group()
        for i in range(destinations):
            await relay.subscriptions.subscribe(Destination("memory", f"d{i}"), ["live"])
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        await asyncio.sleep(0.3)  # workers idle, blocked on their reads
        for i in range(updates):
            before = len(memory.calls)
            started = time.perf_counter()
            await relay.ingest.publish(Update(f"lat-{destinations}-{i}", "live", headline="h"))
            await memory.wait_for(before + 1, "send")
            latencies.append((time.perf_counter() - started) * 1000)
            await memory.wait_for(before + destinations, "send")
            await asyncio.sleep(0.05)  # low load: one update at a time
        stop.set()
        await task
    return latencies


async def main(updates: int) -> None:
    rows = []
    with valkey() as server:
        for destinations in (1, 100):
            ms = await measure(server.url, destinations, updates)
            rows.append([destinations, len(ms), median(ms), percentile(ms, 0.9),
                         percentile(ms, 0.99)])  # fmt: skip
    report(
        "latency",
        ["destinations", "updates", "median ms", "p90 ms", "p99 ms"],
        rows,
        "time from calling publish to the first destination's send (ingest incl. WAITAOF, "
        "fan-out, scheduling); one update at a time",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=100)
    asyncio.run(main(parser.parse_args().updates))
