"""The embedded Valkey's keeper: a tiny parent that stops the server once no relay uses it.

`python -P -m relay.keeper <valkey-server> <conf>` runs in the data directory, in its own
session, started by the first relay that needs the server. Why a separate process: the relay
may die by SIGKILL, which no handler of its own sees, and the server must not outlive it.

- Every process using the server (`EmbeddedValkey.start`) holds a shared `flock` on
  `users.lock` until it stops. The kernel drops the lock when a process dies, however it dies.
- The keeper polls for an exclusive lock on `users.lock`. Holding it means no user is left:
  it stops Valkey with SIGTERM (Valkey fsyncs the AOF first), waits for it, and exits, still
  holding the lock, so a relay starting meanwhile waits and then starts a fresh server.
- The keeper holds `keeper.lock` all its life: a live server with a free `keeper.lock` is a
  leftover nobody watches (from an older relay), which the next relay restarts.
- Valkey is started with `PR_SET_PDEATHSIG` = SIGTERM (Linux): if the keeper itself is killed,
  the kernel stops the server, cleanly. SIGTERM to the keeper stops the server and waits.

Standard library only: it starts in milliseconds and imports nothing of the relay.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

USERS_LOCK = "users.lock"
KEEPER_LOCK = "keeper.lock"
START_LOCK = "start.lock"
POLL_SECONDS = 0.1
STOP_SECONDS = 30.0
PR_SET_PDEATHSIG = 1


class _Stop(Exception):
    """SIGTERM reached the keeper."""


def open_lock(path: Path) -> int:
    """Open (create) a lock file; the descriptor is not inherited by child processes."""
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def try_lock(fd: int, operation: int) -> bool:
    """Take (or convert to) a `flock` without waiting; False if another process holds it."""
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def lock_within(fd: int, operation: int, timeout: float) -> bool:
    """Take a `flock`, waiting up to `timeout` seconds for it."""
    deadline = time.monotonic() + timeout
    while not try_lock(fd, operation):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: SIGTERM when the keeper dies (Linux only)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the keeper died before prctl took effect
        raise OSError("the keeper died while starting the server")


def _stop(server: subprocess.Popen[bytes]) -> int:
    server.terminate()
    try:
        return server.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        _say(f"valkey pid={server.pid} did not stop in {STOP_SECONDS:g}s: killing it")
        server.kill()
        return server.wait()


def _say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} keeper pid={os.getpid()}: {message}",
          file=sys.stderr, flush=True)  # fmt: skip


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def keep(binary: str, conf: str, data_dir: Path) -> int:
    """Run Valkey until no user is left, SIGTERM arrives, or it exits by itself."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the relay
    keeper = open_lock(data_dir / KEEPER_LOCK)
    if not try_lock(keeper, fcntl.LOCK_EX):
        _say("another keeper runs in this data directory")
        return 3
    users = open_lock(data_dir / USERS_LOCK)
    me = os.getpid()
    server = subprocess.Popen(
        [binary, conf],
        cwd=data_dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: _die_with_parent(me),  # the keeper has one thread: this is safe
    )
    _say(f"valkey pid={server.pid} started")
    try:
        while True:
            try:
                code = server.wait(POLL_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            else:
                _say(f"valkey pid={server.pid} exited with {code}")
                return 0
            if try_lock(users, fcntl.LOCK_EX):
                _say(f"no relay uses valkey pid={server.pid}: stopping it")
                return 0 if _stop(server) == 0 else 1
    except _Stop:
        _say(f"SIGTERM: stopping valkey pid={server.pid}")
        return 0 if _stop(server) == 0 else 1


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -P -m relay.keeper VALKEY_SERVER CONF", file=sys.stderr)
        return 2
    return keep(argv[0], argv[1], Path.cwd())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
