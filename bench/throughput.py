"""Delivery throughput of the relay itself (memory adapter, no budgets) with 1-3 workers.

Usage: python -m bench.throughput [--destinations 2000] [--updates 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.harness import make_config, relays, report, subscribe_many, valkey, wait_until
from relay.adapters.memory import MemoryAdapter
from relay.model import Update


async def measure(url: str, workers: int, destinations: int, updates: int) -> tuple[float, int]:
    adapters = [MemoryAdapter() for _ in range(workers)]
    config = make_config(url, concurrency=64)
    async with relays(config, adapters) as running:
        first = running[0]
        await first.client.flushall()
        for r in running:
            await r.dispatcher.stream.ensure_group()
        await subscribe_many(first, destinations)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.run(stop)) for r in running]
        started = time.perf_counter()
        for i in range(updates):
            await first.ingest.publish(Update(f"t{i}", "live", headline=f"update {i}"))
        total = destinations * updates
        await wait_until(lambda: sum(len(a.calls) for a in adapters) >= total, poll=0.01)
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks)
    return elapsed, total


async def main(destinations: int, updates: int) -> None:
    rows = []
    with valkey() as server:
        for workers in (1, 2, 3):
            elapsed, total = await measure(server.url, workers, destinations, updates)
            rows.append([workers, destinations, total, elapsed, total / elapsed])
    report(
        "throughput",
        ["workers", "destinations", "deliveries", "seconds", "deliveries/s"],
        rows,
        "all workers in one process on one event loop (this machine has 2 cores); platform "
        "budgets off: this is the relay's own ceiling, far above any bot token's budget",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--destinations", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.destinations, args.updates))
