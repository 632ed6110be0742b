"""A CMS flood over HTTP against `relay run` workers: accepted, refused, delivered, lost, memory.

Starts a throw-away Valkey and `relay run` workers as separate processes (console adapter to
/dev/null, API on), floods `POST /v1/updates` from many concurrent connections, waits for the
relay to drain, then counts what every accepted update became from the ledger. "lost" is
accepted − delivered and must be 0: the stream keeps what no dispatcher acknowledged, and ingest
refuses (429/503 + Retry-After) past `redis.max_backlog` instead of accepting more.

Usage: python -m bench.flood [--seconds 20] [--connections 16] [--workers 2]
       python -m bench.flood --seconds 90 --connections 64     # the flood of issue 11
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
import yaml

from bench.harness import report, valkey
from relay.keys import Keys
from relay.ledger import Ledger, parse_copy
from relay.model import Destination
from relay.queues import Queues
from relay.stream import Stream

KEYS = Keys()
DEST = Destination("console", "flood")
BODY = "A paragraph of the live blog, **with** a [link](https://example.org/live) in it. " * 3
MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(path: Path, url: str, port: int, max_backlog: int | None) -> Path:
    redis: dict[str, Any] = {"url": url}
    if max_backlog is not None:
        redis["max_backlog"] = max_backlog
    path.write_text(
        yaml.safe_dump({
            "redis": redis,
            "topics": [{"slug": "live", "title": "Live"}],
            "channels": [{"destination": str(DEST), "topics": ["live"]}],
            "console": {"enabled": True},
            "api": {"enabled": True, "host": "127.0.0.1", "port": port},
        })
    )  # fmt: skip
    return path


@contextlib.asynccontextmanager
async def workers(
    url: str, count: int, max_backlog: int | None, logs: Path
) -> AsyncIterator[list[str]]:
    """`count` `relay run` processes, each with its API on its own port; yields the base URLs."""
    procs: list[asyncio.subprocess.Process] = []
    bases = []
    try:
        for i in range(count):
            port = _free_port()
            cfg = _config(logs / f"w{i}.yaml", url, port, max_backlog)
            log = (logs / f"w{i}.log").open("wb")
            command = [sys.executable, "-m", "relay.cli", "--config", str(cfg), "run",
                       "--consumer", f"flood-{i}"]  # fmt: skip
            proc = await asyncio.create_subprocess_exec(
                *command, stdout=subprocess.DEVNULL, stderr=log
            )
            procs.append(proc)
            log.close()
            bases.append(f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as http:
            for base in bases:
                await _ready(http, base)
        yield bases
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 60)


async def _ready(http: aiohttp.ClientSession, base: str) -> None:
    async with asyncio.timeout(60):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.2)


class Tally:
    """What the flood's requests got back."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.accepted: list[str] = []
        self.errors = 0
        self.retry_after: set[str] = set()


async def flood(bases: Sequence[str], connections: int, seconds: float) -> Tally:
    """POST updates from `connections` concurrent connections for `seconds`."""
    tally = Tally()
    deadline = time.monotonic() + seconds
    numbers = itertools.count()
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=30)

    async def client(base: str, http: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            n = next(numbers)
            update = {"topic": "live", "headline": f"Flood update {n}", "body": BODY}
            try:
                async with http.post(f"{base}/v1/updates", json=update) as r:
                    tally.statuses[r.status] += 1
                    if r.status == 201:
                        tally.accepted.append((await r.json())["id"])
                    elif r.status in (429, 503):
                        retry_after = r.headers.get("Retry-After", "")
                        tally.retry_after.add(retry_after or "(none)")
                        # A CMS waits as it is told (a client that does not competes with the
                        # fan-out for the workers' CPU: that is a denial of service, not load).
                        await asyncio.sleep(float(retry_after) if retry_after.isdigit() else 1.0)
            except (aiohttp.ClientError, TimeoutError):
                tally.errors += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(client(bases[i % len(bases)], http) for i in range(connections)))
    return tally


async def memory(client: aioredis.Redis) -> int:
    return int((await client.info("memory"))["used_memory"])


async def drained(client: aioredis.Redis, within: float) -> float | None:
    """Seconds until nothing waits to be fanned out or sent (None: not within `within`)."""
    stream, queues = Stream(client, KEYS), Queues(client, KEYS)
    started = time.monotonic()
    while time.monotonic() - started < within:
        if not await stream.backlog() and not await queues.ready.waiting():
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    return None


async def delivered(client: aioredis.Redis, ids: Sequence[str]) -> tuple[int, int]:
    """How many of `ids` the console destination shows: (in full, as a digest line)."""
    ledger = Ledger(client, KEYS, 0)
    full = digest = 0
    for start in range(0, len(ids), 1000):
        async with client.pipeline(transaction=False) as pipe:
            for update_id in ids[start : start + 1000]:
                ledger.get_in(pipe, update_id, DEST)
            for raw in await pipe.execute():
                copy = parse_copy(raw)
                if copy is not None:
                    digest += copy.digest
                    full += not copy.digest
    return full, digest


async def measure(args: argparse.Namespace) -> list[Any]:
    with valkey() as server, tempfile.TemporaryDirectory(prefix="lr-flood-") as tmp:
        client = aioredis.Redis.from_url(server.url)
        try:
            async with workers(server.url, args.workers, args.max_backlog, Path(tmp)) as bases:
                before = await memory(client)
                peak = before
                sampling = True

                async def sample() -> None:
                    nonlocal peak
                    while sampling:
                        peak = max(peak, await memory(client))
                        await asyncio.sleep(0.5)

                sampler = asyncio.create_task(sample())
                started = time.monotonic()
                tally = await flood(bases, args.connections, args.seconds)
                flood_seconds = time.monotonic() - started
                drain = await drained(client, args.drain_timeout)
                sampling = False
                await sampler
                full, digest = await delivered(client, tally.accepted)
                after = await memory(client)
                stream_length = await client.xlen(KEYS.updates)
            if drain is None:
                tails = [(Path(tmp) / f"w{i}.log").read_text()[-2000:] for i in range(args.workers)]
                print("did not drain; worker log tails:\n" + "\n".join(tails), file=sys.stderr)
        finally:
            await client.aclose()
    accepted = len(tally.accepted)
    refused = tally.statuses[429] + tally.statuses[503]
    other = sum(n for s, n in tally.statuses.items() if s not in (201, 429, 503))
    print(f"statuses {dict(tally.statuses)}; Retry-After values {sorted(tally.retry_after)}")
    return [
        args.workers, args.connections, round(flood_seconds, 1), accepted,
        accepted / flood_seconds, refused, tally.errors + other, full, digest,
        accepted - full - digest, "no" if drain is None else round(drain, 1),
        stream_length, before / MIB, peak / MIB, after / MIB,
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to flood")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="`relay run` processes")
    backlog_help = "redis.max_backlog for the workers (default: the config's)"
    parser.add_argument("--max-backlog", type=int, default=None, help=backlog_help)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)  # the workers use the throw-away server
    row = asyncio.run(measure(args))
    report(
        "flood",
        ["workers", "connections", "seconds", "accepted", "accepted/s", "refused", "errors",
         "delivered", "in digests", "lost", "drain s", "stream left", "MiB before",
         "MiB peak", "MiB after"],
        [row],
        "POST /v1/updates from concurrent connections against `relay run` workers (console "
        "adapter to /dev/null, one destination); delivered = ledger copies of accepted ids, "
        "in full or as digest lines; lost = accepted - delivered",
    )  # fmt: skip


if __name__ == "__main__":
    main()
