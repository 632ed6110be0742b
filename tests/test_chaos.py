"""Workers killed with SIGKILL mid fan-out: every copy arrives; only in-flight sends repeat.

Real `relay run` processes share the test Valkey and deliver to 2,000 console destinations
(the dry-run adapter prints one line per send or edit, which is what this test counts).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

import pytest
import redis.asyncio as aioredis

from relay.changes import Changes
from relay.config import Config
from relay.dead_letters import list_dead_letters
from relay.ingest import Ingest
from relay.keys import Keys
from relay.ledger import Ledger
from relay.model import Destination, Update
from relay.ready import Ready
from relay.subscriptions import Subscriptions

from .conftest import BACKINGS
from .helpers import KEYS
from .test_cli import write_config

DESTINATIONS = 2000
LINE = re.compile(r"^([→✎]) (console:\S+)  update=(\S+) rev=(\d+)", re.M)


class Workers:
    def __init__(self, cfg: Path, out: Path, env: dict[str, str] | None = None) -> None:
        self.cfg, self.out = cfg, out
        self.env = {**os.environ, **(env or {})}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.files: list[IO[bytes]] = []

    def start(self, name: str) -> None:
        f = (self.out / f"{name}.out").open("wb")
        err = (self.out / f"{name}.err").open("wb")
        self.files += [f, err]
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "relay.cli", "--config", str(self.cfg), "run",
             "--consumer", name],
            stdout=f, stderr=err, env=self.env,
        )  # fmt: skip

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in self.procs.items():
            code = p.wait(30)
            # SIGTERM before the interpreter reached main() (nothing logged yet) kills any
            # process; from main() on, relay run exits 0 (tests/test_run.py).
            early = code == -signal.SIGTERM and not (self.out / f"{name}.err").read_bytes()
            if code not in (0, -signal.SIGKILL) and not early:
                raise AssertionError(f"worker {name} exited with {code}")
        for f in self.files:
            f.close()

    def logs(self) -> str:
        return "".join(p.read_text() for p in self.out.glob("*.err"))

    def lines(self) -> list[tuple[str, str, str, int]]:
        text = "".join(p.read_text() for p in self.out.glob("*.out"))
        return [(op, dest, update, int(rev)) for op, dest, update, rev in LINE.findall(text)]


@pytest.fixture(params=BACKINGS)
def backing(request: pytest.FixtureRequest) -> str:
    """On the single server, and on the cluster with `-m cluster`."""
    return str(request.param)


async def settled(client: aioredis.Redis, keys: Keys = KEYS) -> bool:
    """Every entry read by the group and acknowledged, and no destination waiting.

    Without the lag check, a poll before any worker has read the stream (slow start-ups on a
    busy machine) would see nothing pending and nothing ready, and stop the test early.
    """
    groups = await client.xinfo_groups(KEYS.updates)
    found = [g for g in groups if g["name"] in (KEYS.group, KEYS.group.encode())]
    if not found:  # no worker has started yet
        return False
    [group] = found
    pending = (await client.xpending(KEYS.updates, KEYS.group))["pending"]
    return group["lag"] == 0 and pending == 0 and await Ready(client, keys).waiting() == 0


async def subscribed(client: aioredis.Redis, keys: Keys) -> list[Destination]:
    """DESTINATIONS console destinations, each subscribed to `ukraine`."""
    dests = [Destination("console", f"d{i}") for i in range(DESTINATIONS)]
    subs = Subscriptions(client, keys)
    for i in range(0, DESTINATIONS, 50):
        await asyncio.gather(*(subs.subscribe(d, ["ukraine"]) for d in dests[i : i + 50]))
    return dests


async def test_sigkilled_workers_lose_nothing_and_repeat_only_in_flight_sends(
    tmp_path: Path, client: aioredis.Redis, config: Config, redis_section: dict[str, Any]
) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    keys = Keys(config.redis.key_prefix, config.redis.shards)
    cfg = write_config(
        tmp_path / "r.yaml",
        redis=redis_section,
        dispatcher={"claim_idle_seconds": 1, "lease_seconds": 1, "concurrency": 32},
    )
    dests = await subscribed(client, keys)
    ingest = Ingest(client, keys, config.topic_slugs, 10_000)
    for i in range(3):
        await ingest.publish(Update(f"u{i}", "ukraine", headline=f"Update {i}"))

    workers = Workers(cfg, tmp_path)
    workers.start("a0")
    workers.start("b0")
    kills = 0
    try:
        for round_ in range(1, 4):
            await asyncio.sleep(rng.uniform(0.3, 1.5))
            workers.kill(f"a{round_ - 1}")
            kills += 1
            if round_ == 1:  # an edit and a new update race the recovery
                await ingest.edit("u0", Changes(headline="Update 0, corrected"))
                await ingest.publish(Update("u3", "ukraine", headline="Update 3"))
            workers.start(f"a{round_}")
        async with asyncio.timeout(180):
            while not await settled(client, keys):  # noqa: ASYNC110 - the state lives in Redis
                await asyncio.sleep(0.2)
    finally:
        workers.stop()

    lines = workers.lines()
    sends = Counter((dest, update) for op, dest, update, _ in lines if op == "→")
    expected = {(str(d), f"u{i}") for d in dests for i in range(4)}
    assert set(sends) == expected  # nothing lost
    repeats = sum(n - 1 for n in sends.values())
    # A repeat needs a send that was in flight when its worker died: at most `concurrency`
    # destinations per kill, each with one send in flight.
    assert repeats <= kills * 32, f"{repeats} repeated sends after {kills} kills"
    ledger = Ledger(client, keys, 3600)
    copies = await ledger.copies("u0")
    assert len(copies) == DESTINATIONS
    assert {c.revision for c in copies.values()} == {2}  # every copy shows the correction


async def test_a_fan_out_longer_than_the_claim_idle_time_stays_with_its_worker(
    tmp_path: Path, client: aioredis.Redis, config: Config, redis_section: dict[str, Any]
) -> None:
    """A fan-out takes longer than `claim_idle_seconds` (100,000 subscribers took 37 s against
    the default 10 s): its worker keeps the entry from looking idle, so a second worker never
    claims it; before, it was claimed, fanned out twice, and once past `max_attempts` claims
    became a dead letter while it was being delivered."""
    keys = Keys(config.redis.key_prefix, config.redis.shards)
    cfg = write_config(
        tmp_path / "r.yaml",
        redis=redis_section,
        dispatcher={"claim_idle_seconds": 1, "max_attempts": 1, "batch_size": 1},
    )
    dests = await subscribed(client, keys)
    workers = Workers(cfg, tmp_path)
    workers.start("a")
    workers.start("b")
    try:
        ingest = Ingest(client, keys, config.topic_slugs, 10_000)
        await ingest.publish(Update("u0", "ukraine", headline="A long fan-out"))
        async with asyncio.timeout(180):
            while not await settled(client, keys):  # noqa: ASYNC110 - the state lives in Redis
                await asyncio.sleep(0.2)
    finally:
        workers.stop()
    sends = Counter(dest for op, dest, update, _ in workers.lines() if op == "→")
    assert sends == Counter({str(d): 1 for d in dests})
    assert await list_dead_letters(client, keys) == []
    logs = workers.logs()
    assert len(re.findall(r"fanned out update=u0 ", logs)) == 1, logs[-3000:]
    assert "claimed" not in logs
    assert await client.hlen(keys.fanout_cursors) == 0  # the acknowledgement dropped it
