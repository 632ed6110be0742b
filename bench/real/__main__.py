"""Benchmarks of the real path: `python -m bench.real [--only NAME …] [sizes]`.

Starts the embedded Valkey and `relay sandbox` (Telegram's and Discord's real limits), then for
each workload N `relay run` workers as processes, subscribes the destinations (not measured),
posts through `POST /v1/updates` and reads the sandbox's request log and `/proc/<pid>/stat`.
Prints Markdown tables, writes `<results>/real.json` and, with matplotlib, PNG plots.
`--profile`: py-spy samples each run's sending processes: where their CPU goes (`profile`).
`--cluster`: the data on a 3-master Valkey Cluster with a replica each (tests/cluster.py) instead
of the embedded server; `--only console --console-workers 1 2 4` measures the relay's own
ceiling there (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from bench.harness import valkey
from tests.cluster import Cluster

from . import plots, report
from .measure import Run, command_mix, percentile, steady_rate
from .procs import cpu_seconds, start_sandbox
from .profile import Profiler
from .workloads import (
    Bench,
    Store,
    console_capacity,
    latency,
    plain_telegram,
    relay_discord,
    relay_telegram,
    relay_telegram_bots,
)

# The last, `console`, runs only when named (`capacity` includes it).
WORKLOADS = ("private", "groups", "paid", "discord", "latency", "capacity", "bots", "console")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.real", description=__doc__)
    p.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS[:-1]))
    p.add_argument("--private", type=int, default=900, help="private chats at 30/s")
    p.add_argument("--groups", type=int, default=50, help="groups, each sent --group-updates")
    p.add_argument("--group-updates", type=int, default=3)
    p.add_argument("--paid", type=int, default=5000, help="chats, paid broadcast (issue: 20000)")
    p.add_argument(
        "--bots-chats",
        type=int,
        default=8000,
        help="chats over --bots bots, each with paid broadcast (issue: 100000)",
    )
    p.add_argument("--bots", type=int, default=4, help="Telegram bots for --bots-chats")
    p.add_argument("--bots-workers", type=int, default=2, help="relay run workers for them")
    p.add_argument("--discord", type=int, default=1500, help="Discord channels, 3 workers")
    p.add_argument("--latency", type=int, default=20, help="updates, one every 1.1 s")
    p.add_argument("--capacity", type=int, default=3000, help="chats, Telegram limits off")
    p.add_argument("--console", type=int, default=5000, help="console destinations")
    p.add_argument("--console-workers", type=int, nargs="+", default=[2], help="one run each")
    p.add_argument("--cluster", action="store_true", help="on a 3-master Valkey Cluster")
    p.add_argument("--no-plain", action="store_true", help="skip the plain PTB loop")
    p.add_argument("--results", type=Path, default=report.RESULTS)
    p.add_argument("--profile", action="store_true", help="py-spy: CPU by component")
    return p.parse_args(argv)


async def paced(b: Bench, a: argparse.Namespace) -> list[Run]:
    """The workloads at the platforms' real limits, relay and plain loop side by side."""
    runs: list[Run] = []
    plain = not a.no_plain
    if "private" in a.only:
        name = f"telegram {a.private} private"
        runs += [await relay_telegram(b, name, "private", a.private, n) for n in (1, 3)]
        runs += [await plain_telegram(b, name, "private", a.private)] if plain else []
    if "groups" in a.only:
        name, u = f"telegram {a.groups} groups × {a.group_updates}", a.group_updates
        runs += [await relay_telegram(b, name, "groups", a.groups, 1, updates=u)]
        runs += [await plain_telegram(b, name, "groups", a.groups, updates=u)] if plain else []
    if "paid" in a.only:
        name = f"telegram {a.paid} paid"
        runs += [await relay_telegram(b, name, "private", a.paid, 2, paid=True)]
        runs += [await plain_telegram(b, name, "private", a.paid, paid=True)] if plain else []
    if "discord" in a.only:
        runs += [await relay_discord(b, a.discord, 3)]
    return runs


async def several_bots(b: Bench, a: argparse.Namespace) -> list[dict[str, object]]:
    """One update to --bots-chats private chats over --bots bots, each with paid broadcast:
    the time to deliver against the ideal (chats / (bots × 1,000/s)), and the 429s."""
    name = f"telegram {a.bots_chats} paid over {a.bots} bots"
    run, per_bot = await relay_telegram_bots(b, name, a.bots_chats, a.bots, a.bots_workers)
    ideal = a.bots_chats / run.budget
    return [{"workload": run.workload, "workers": run.workers, "messages": run.expected,
             "delivered": run.delivered, "429s": run.refused, "seconds": run.seconds,
             "ideal seconds": ideal, "x ideal": run.seconds / ideal,
             "steady/s": steady_rate(run.ok), "budget/s": run.budget, "fill": run.fill,
             "sent per bot": " ".join(f"{n:,}" for _, n in sorted(per_bot.items())),
             **run.cpu()}]  # fmt: skip


async def capacity(b: Bench, a: argparse.Namespace) -> list[Run]:
    """Limits off: deliveries per second the relay itself manages, and the plain loop's floor
    (PTB and the sandbox alone, no limiter) with PTB's transport and with the relay's."""
    name = f"telegram {a.capacity}, limits off"
    off = {"enabled": False}
    runs = [await relay_telegram(b, name, "private", a.capacity, 1, limits=off)]
    if not a.no_plain:
        runs += [await plain_telegram(b, name, "private", a.capacity, limits=off,
                                      aiohttp_request=aio) for aio in (False, True)]  # fmt: skip
    return [*runs, *await consoles(b, a)]


async def consoles(b: Bench, a: argparse.Namespace) -> list[Run]:
    """Console destinations, no platform: the relay's own ceiling, per number of workers."""
    return [await console_capacity(b, a.console, n) for n in a.console_workers]


@contextlib.contextmanager
def store(on_cluster: bool) -> Iterator[tuple[Store, aioredis.Redis]]:
    """The embedded Valkey, or a fresh 3-master cluster; and a client on it."""
    if not on_cluster:
        with valkey() as server:
            assert server.pid is not None
            yield Store({"url": server.url}, [server.pid]), aioredis.Redis.from_url(server.url)
        return
    cluster = Cluster()
    try:
        cluster.start()
        pids = [n.process.pid for n in cluster.masters() if n.process is not None]
        section = {"url": cluster.seed, "cluster": True}
        yield Store(section, pids, shards=16), RedisCluster.from_url(cluster.seed)  # type: ignore[misc]
    finally:
        cluster.stop()


def capacity_row(run: Run) -> dict[str, object]:
    rate = run.delivered / run.seconds if "console" in run.workload else steady_rate(run.ok)
    return {"workload": run.workload, "path": run.path, "workers": run.workers,
            "delivered": run.delivered, "seconds": run.seconds, "per second": rate,
            "per second per worker": rate / run.workers, **run.cpu()}  # fmt: skip


def profiled(profiler: Profiler) -> dict[str, Any]:
    """Print each run's profile table; their rows and files for the JSON."""
    out: dict[str, Any] = {}
    if profiler.profiles:
        print(f"## Where the CPU goes (py-spy, {profiler.results}/profile-*)\n")
    for p in profiler.profiles:
        rows = p.shares()
        print(f"### {p.label}: {p.summary()}\n")
        print(report.table(rows), "\n")
        out[p.label] = {"samples": p.samples, "cpu_seconds": p.cpu, "components": rows,
                        "files": [str(f) for f in p.files]}  # fmt: skip
    return out


async def main(a: argparse.Namespace) -> int:
    with (
        store(a.cluster) as (server, redis),
        tempfile.TemporaryDirectory(prefix="lr-bench-") as tmp,
    ):
        sandbox = await start_sandbox()
        sandbox_cpu0 = cpu_seconds(sandbox.pid)
        try:
            async with aiohttp.ClientSession() as http:
                profiler = Profiler.make(a.results) if a.profile else None
                b = Bench(http, sandbox, server, redis, Path(tmp), profiler)
                runs = await paced(b, a)
                lat = await latency(b, a.latency) if "latency" in a.only else []
                caps = await capacity(b, a) if "capacity" in a.only else []
                bots = await several_bots(b, a) if "bots" in a.only else []
                caps += await consoles(b, a) if "console" in a.only else []
        finally:
            sandbox_cpu = cpu_seconds(sandbox.pid) - sandbox_cpu0
            await redis.aclose()
            sandbox.proc.terminate()
            await sandbox.proc.wait()
    out: dict[str, Any] = {"sizes": {k: v for k, v in vars(a).items() if k != "results"}}
    if runs:
        rows = [r.row() for r in runs]
        print("## Paced workloads (the sandbox at Telegram's and Discord's limits)\n")
        print(report.table(rows), "\n")
        out["paced"] = rows
        out["series"] = {f"{r.workload} · {r.path} ×{r.workers}": r.series() for r in runs}
    if lat:
        finite = [v for v in lat if math.isfinite(v)]
        row = {"updates": len(lat), "delivered": len(finite),
               **{f"p{q} ms": percentile(finite, q / 100) for q in (50, 95, 99)},
               "max ms": max(finite, default=math.nan)}  # fmt: skip
        print("## First-delivery latency at low load (one private chat)\n")
        print(report.table([row]), "\n")
        out["latency"] = {**row, "samples": lat}
    if caps:
        rows = [capacity_row(r) for r in caps]
        print("## Capacity, limits off\n")
        print(report.table(rows), "\n")
        out["capacity"] = rows
    if mix := command_mix([*runs, *caps]):
        print("## Redis commands per message, by command (a script's calls under theirs)\n")
        print(report.table(mix), "\n")
        out["commands"] = mix
    if bots:
        print("## Several bots, each with paid broadcast (the sandbox at Telegram's limits)\n")
        print(report.table(bots), "\n")
        out["bots"] = bots
    if profiler is not None:
        out["profile"] = profiled(profiler)
    out["sandbox_cpu_seconds"] = sandbox_cpu
    print(f"JSON: {report.write('real', out, a.results)}")
    made = plots.draw(runs, lat, a.results)
    if made:
        print("plots: " + ", ".join(str(p) for p in made))
    else:
        print("plots skipped: matplotlib is not installed (pip install -e '.[bench]')")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
