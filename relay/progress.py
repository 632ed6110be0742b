"""Following an update from a shell: `relay post --wait` and `relay progress ID`.

On a terminal one progress bar is redrawn in place; otherwise (a pipe, a log) one plain line is
printed per change. Exit status: 0 every destination got the update; 3 some failed (dead
letters say why); 4 `--timeout` ran out first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any, TextIO

from relay.ledger import Progress, read_progress
from relay.workers import Workers

FAILED = 3
TIMED_OUT = 4
POLL = 0.2  # seconds between reads of the progress hash
WIDTH = 30


def add_arguments(post: argparse.ArgumentParser, sub: Any) -> None:
    """`--wait`/`--timeout` for `relay post`, and the `relay progress` command."""
    follow = sub.add_parser("progress", help="follow an update's delivery until it is done")
    follow.add_argument("id")
    post.add_argument("--wait", action="store_true", help="follow delivery until it is done")
    for p in (post, follow):
        p.add_argument("--timeout", type=float, help="give up (exit 4) after this many seconds")


def line(p: Progress) -> str:
    """One plain line: delivered / total, failed, and per platform (its total once known)."""
    parts = [f"delivered {p.delivered:,} / {p.total:,}" + ("" if p.fanned_out else "+"),
             f"{p.failed:,} failed"]  # fmt: skip
    parts += [f"{name} {ok:,}{f' / {total:,}' if total else ''} ok {bad:,} failed"
              for name, ok, bad, total in p.platforms]  # fmt: skip
    return " · ".join(parts) + (" (done)" if p.done else "")


def bar(p: Progress) -> str:
    """A bar of `WIDTH` cells: `#` delivered, `x` failed, `.` still to go."""
    total = max(p.total, p.delivered + p.failed, 1)
    ok = WIDTH * p.delivered // total
    bad = WIDTH * (p.delivered + p.failed) // total - ok
    return "[" + "#" * ok + "x" * bad + "." * (WIDTH - ok - bad) + "] " + line(p)


async def follow(relay: Any, update_id: str, limit: float | None, out: TextIO) -> int:
    """Show the progress of `update_id` until done (0, or 3 if some failed) or `limit` s (4)."""
    tty = out.isatty()
    deadline = None if limit is None else time.monotonic() + limit
    shown = ""
    while True:
        progress = await read_progress(relay.client, relay.keys, update_id)
        text = "waiting for a worker to fan it out" if progress is None else line(progress)
        if text != shown:
            shown = text
            if tty:
                out.write("\r\x1b[K" + (text if progress is None else bar(progress)))
            else:
                out.write(text + "\n")
            out.flush()
        if progress is not None and progress.done:
            if tty:
                out.write("\n")
            return FAILED if progress.failed else 0
        if deadline is not None and time.monotonic() >= deadline:
            out.write(("\n" if tty else "") + f"gave up after {limit:g}s: {text}\n")
            return TIMED_OUT
        await asyncio.sleep(POLL)


async def after_post(relay: Any, args: argparse.Namespace, update_id: str) -> int:
    """Warn when no worker is alive to deliver; follow delivery with `--wait`."""
    if not await Workers(relay.client, relay.keys).live():
        print("warning: no relay worker is running (no heartbeat): the update is accepted and "
              "will be delivered when one starts", file=sys.stderr)  # fmt: skip
    if not args.wait:
        return 0
    sys.stdout.flush()
    return await follow(relay, update_id, args.timeout, sys.stdout)


async def command(relay: Any, args: argparse.Namespace) -> int:
    """`relay progress ID`."""
    return await follow(relay, args.id, args.timeout, sys.stdout)
