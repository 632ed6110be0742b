"""How much of a shared budget three workers use while work waits (the target is >= 95%).

Usage: python -m bench.budget_fill [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.harness import make_config, relays, report, subscribe_many, valkey, wait_until
from relay.adapter import Budget
from relay.adapters.memory import MemoryAdapter
from relay.model import Update


def one_bot(rate: float, burst: int) -> MemoryAdapter:
    budget = Budget("memory:bot:global", rate=rate, burst=burst)
    return MemoryAdapter(budgets=lambda dest: (budget,))


async def measure(url: str, rate: float, burst: int, seconds: float) -> tuple[int, float]:
    adapters = [one_bot(rate, burst) for _ in range(3)]
    config = make_config(url, concurrency=64, digest_threshold=10_000)
    destinations = int(rate * seconds * 2)  # more work than the budget allows in the window
    async with relays(config, adapters) as running:
        first = running[0]
        await first.client.flushall()
        for r in running:
            await r.dispatcher.stream.ensure_group()
        await subscribe_many(first, destinations)
        await first.ingest.publish(Update("fill", "live", headline="fill the budget"))
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.run(stop)) for r in running]
        await wait_until(lambda: sum(len(a.calls) for a in adapters) > 0)
        started = time.perf_counter()
        at_start = sum(len(a.calls) for a in adapters)
        await asyncio.sleep(seconds)
        sent = sum(len(a.calls) for a in adapters) - at_start
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks)
    return sent, elapsed


async def main(seconds: float) -> None:
    rows = []
    with valkey() as server:
        for rate in (30.0, 100.0, 300.0):
            for burst in (1, max(1, int(rate / 10))):
                sent, elapsed = await measure(server.url, rate, burst, seconds)
                achieved = sent / elapsed
                ceiling = rate + burst / elapsed  # what the budget allows in the window
                rows.append([rate, burst, sent, elapsed, achieved, 100 * achieved / rate,
                             "yes" if sent <= ceiling * elapsed else "NO"])  # fmt: skip
    report(
        "budget_fill",
        ["budget/s", "burst", "sent", "seconds", "sent/s", "fill %", "within budget"],
        rows,
        "three workers share one bot's global budget (GCRA in Redis) with more destinations "
        "waiting than the budget allows; fill above 100% would be a violation",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    asyncio.run(main(parser.parse_args().seconds))
