"""`relay progress ID` on a terminal: one bar redrawn in place, as an operator watching sees it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis

from relay.config import Config
from relay.keys import Keys
from relay.ledger import Ledger, ProgressBook
from relay.model import Destination

from .test_cli import write_config


async def test_on_a_terminal_relay_progress_redraws_one_bar_until_done(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    book = ProgressBook(client, Keys(), 60)
    await book.start("u1", 1)
    dests = [Destination("console", "desk"), Destination("console", "wall")]
    await Ledger(client, Keys(), 60).add_targets("u1", dests)
    await book.fanned_out("u1")
    await book.count("u1", 1, dests[0], ok=True)
    terminal, side = os.openpty()
    log = (tmp_path / "stderr").open("w")  # start-up log lines: not what is checked here
    proc = subprocess.Popen(  # noqa: ASYNC220 - started here, waited for in a thread
        [sys.executable, "-m", "relay.cli", "--config", str(cfg), "progress", "u1",
         "--timeout", "60"], stdin=side, stdout=side, stderr=log,
    )  # fmt: skip
    os.close(side)
    seen = b""

    async def read_until(mark: bytes) -> None:
        nonlocal seen
        while mark not in seen:
            seen += await asyncio.to_thread(os.read, terminal, 4096)

    try:
        async with asyncio.timeout(60):
            await read_until(b"delivered 1 / 2")
            await book.count("u1", 1, dests[1], ok=True)  # the last destination
            await read_until(b"(done)\r\n")
            code = await asyncio.to_thread(proc.wait, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(terminal)
        log.close()
    text = seen.decode()
    assert code == 0, text
    half = "[###############...............] delivered 1 / 2 · 0 failed · console 1 / 2 ok 0 failed"
    done = "[##############################] delivered 2 / 2 · 0 failed · console 2 / 2 ok 0 failed"
    assert text == f"\r\x1b[K{half}\r\x1b[K{done} (done)\r\n", text  # the tty turns \n to \r\n
