"""What every benchmark needs: a throw-away Valkey, a config, relay workers, a table printer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import platform
import shutil
import statistics
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from relay import config as config_mod
from relay.adapter import Adapter
from relay.app import Relay
from relay.backend import EmbeddedValkey
from relay.config import Config
from relay.model import Destination

RESULTS = Path(__file__).resolve().parent / "results"


@contextlib.contextmanager
def valkey() -> Iterator[EmbeddedValkey]:
    directory = Path(tempfile.mkdtemp(prefix="lr-bench-", dir="/tmp"))
    server = EmbeddedValkey(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def make_config(url: str, **dispatcher: Any) -> Config:
    data = {
        "redis": {"url": url},
        "topics": [{"slug": "live", "title": "Live"}],
        "api": {"enabled": False},
        "console": {"enabled": False},
        "dispatcher": {"claim_idle_seconds": 5, **dispatcher},
    }
    return config_mod.parse(data, "bench", {})


@contextlib.asynccontextmanager
async def relays(config: Config, adapters: Sequence[Adapter]) -> AsyncIterator[list[Relay]]:
    """One started `Relay` per adapter (each a worker with its own consumer name)."""
    async with contextlib.AsyncExitStack() as stack:
        out = [
            await stack.enter_async_context(Relay(config, adapters=[a], consumer=f"bench-{i}"))
            for i, a in enumerate(adapters)
        ]
        yield out


async def subscribe_many(relay: Relay, count: int, topic: str = "live") -> None:
    """Subscribe memory destinations d0…d<count-1> to `topic`, 100 at a time."""
    for start in range(0, count, 100):
        batch = [Destination("memory", f"d{j}") for j in range(start, min(count, start + 100))]
        await asyncio.gather(*(relay.subscriptions.subscribe(d, [topic]) for d in batch))


async def wait_until(done: Callable[[], bool], poll: float = 0.001) -> None:
    """Poll an in-memory condition the adapters change (they signal nothing)."""
    while not done():  # noqa: ASYNC110
        await asyncio.sleep(poll)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def report(name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], notes: str) -> None:
    """Print a Markdown table and write it, with the machine, to bench/results/<name>.json."""
    widths = [max(len(str(c)), *(len(_fmt(r[i])) for r in rows)) for i, c in enumerate(columns)]
    print(f"\n{name}: {notes}\n")
    print("| " + " | ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        cells = [_fmt(v).rjust(w) for v, w in zip(r, widths, strict=True)]
        print("| " + " | ".join(cells) + " |")
    RESULTS.mkdir(exist_ok=True)
    data = {"name": name, "notes": notes, "columns": list(columns), "rows": [list(r) for r in rows],
            "machine": {"python": platform.python_version(), "cpu": platform.machine(),
                        "cores": _cores()}}  # fmt: skip
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2))


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
