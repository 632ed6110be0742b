"""`relay post --wait` and `relay progress` as a shell meets them, with `relay run` delivering."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from relay.config import Config
from relay.keys import Keys
from relay.ledger import Ledger, ProgressBook, read_progress
from relay.model import Destination
from relay.progress import FAILED, TIMED_OUT, line
from relay.workers import Workers

from .test_cli import relay_cmd, write_config

NO_WORKER = "warning: no relay worker is running"


@pytest.fixture
async def worker(tmp_path: Path, client: aioredis.Redis, config: Config) -> AsyncIterator[Path]:
    """A `relay run` subprocess delivering to the console; yields its config file."""
    cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    out = (tmp_path / "run.log").open("w")
    argv = [sys.executable, "-m", "relay.cli", "--config", str(cfg), "run", "--consumer", "w1"]
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)  # noqa: ASYNC220 - starts only
    try:
        async with asyncio.timeout(30):
            while not await Workers(client, Keys()).live():
                assert proc.poll() is None, (tmp_path / "run.log").read_text()
                await asyncio.sleep(0.05)
        yield cfg
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(30)
        out.close()


async def test_post_wait_follows_delivery_to_done_and_exits_0(worker: Path) -> None:
    for chat in ("desk-1", "desk-2"):
        sub = await asyncio.to_thread(
            relay_cmd, "--config", str(worker), "subscribe", "console", chat, "ukraine"
        )
        assert sub.returncode == 0, sub.stderr
    result = await asyncio.to_thread(
        relay_cmd, "--config", str(worker), "post", "--topic", "ukraine", "--headline", "Talks",
        "--wait", "--timeout", "30",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert NO_WORKER not in result.stderr
    lines = result.stdout.splitlines()
    update_id = lines[0]
    assert lines[-1] == "delivered 2 / 2 · 0 failed · console 2 / 2 ok 0 failed (done)"
    assert "\r" not in result.stdout  # not a terminal: plain lines, one per change
    again = await asyncio.to_thread(relay_cmd, "--config", str(worker), "progress", update_id)
    assert again.returncode == 0 and again.stdout.splitlines() == [lines[-1]]


async def test_post_wait_exits_3_when_some_destinations_failed(worker: Path) -> None:
    # Telegram is not enabled in this config: that destination fails (a dead letter says why).
    for platform, chat in (("console", "desk"), ("telegram", "-1001")):
        await asyncio.to_thread(
            relay_cmd, "--config", str(worker), "subscribe", platform, chat, "ukraine"
        )
    result = await asyncio.to_thread(
        relay_cmd, "--config", str(worker), "post", "--topic", "ukraine", "--headline", "Talks",
        "--wait", "--timeout", "30",
    )  # fmt: skip
    assert result.returncode == FAILED == 3, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == (
        "delivered 1 / 2 · 1 failed · console 1 / 1 ok 0 failed · telegram 0 / 1 ok 1 failed (done)"
    )


async def test_post_warns_when_no_worker_is_alive_and_still_accepts(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    result = await asyncio.to_thread(
        relay_cmd, "--config", str(cfg), "post", "--topic", "ukraine", "--headline", "Talks"
    )
    assert result.returncode == 0, result.stderr
    assert NO_WORKER in result.stderr
    update_id = result.stdout.strip()
    assert await client.xlen(Keys().updates) == 1  # accepted all the same
    # Nobody fans it out: following it gives up after --timeout, exit 4.
    follow = await asyncio.to_thread(
        relay_cmd, "--config", str(cfg), "progress", update_id, "--timeout", "0.5"
    )
    assert follow.returncode == TIMED_OUT == 4
    assert follow.stdout.splitlines() == [
        "waiting for a worker to fan it out",
        "gave up after 0.5s: waiting for a worker to fan it out",
    ]


async def test_progress_counts_outcomes_per_platform(client: aioredis.Redis) -> None:
    keys = Keys()
    book = ProgressBook(client, keys, 60)
    await book.start("u1", 1)
    dests = [Destination("telegram", "-1001"), Destination("discord", "12"),
             Destination("discord", "13")]  # fmt: skip
    await Ledger(client, keys, 60).add_targets("u1", dests)
    assert await book.fanned_out("u1") == 3
    await book.count("u1", 1, dests[0], ok=True)
    assert 0 < await client.ttl(keys.progress_counted("u1")) <= 60  # expires with the progress
    await book.count("u1", 1, dests[1], ok=False)
    await book.count("u1", 2, dests[2], ok=True)  # another revision's: not counted
    await book.count("u1", 1, dests[2], ok=True)
    await book.count("u1", 1, dests[2], ok=True)  # served again (up to date): counted once
    await book.count("u1", 1, dests[1], ok=True)  # one outcome per destination: the first
    progress = await read_progress(client, keys, "u1")
    assert progress is not None
    assert (progress.delivered, progress.failed, progress.total) == (2, 1, 3)
    assert progress.platforms == (("discord", 1, 1, 2), ("telegram", 1, 0, 1))
    assert line(progress) == ("delivered 2 / 3 · 1 failed · discord 1 / 2 ok 1 failed · "
                              "telegram 1 / 1 ok 0 failed (done)")  # fmt: skip
    assert progress.done
    assert not await client.exists(keys.progress_counted("u1"))  # done: no longer needed
    # Every copy counted before the fan-out's end: its end is done, and the set goes then.
    await book.start("u2", 1)
    await Ledger(client, keys, 60).add_targets("u2", dests[:1])
    await book.count("u2", 1, dests[0], ok=True)
    assert await client.exists(keys.progress_counted("u2"))
    assert await book.fanned_out("u2") == 1
    assert not await client.exists(keys.progress_counted("u2"))
    done = await read_progress(client, keys, "u2")
    assert done is not None and done.done and done.delivered == 1
    await book.start("u1", 2)  # the next revision counts every destination afresh
    await book.count("u1", 2, dests[2], ok=True)
    progress = await read_progress(client, keys, "u1")
    assert progress is not None and (progress.revision, progress.delivered) == (2, 1)
