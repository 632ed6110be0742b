"""Redis versions: what ingest does on a server without WAITAOF, and what it says at start.

No Redis older than 7.2 can be installed here, so an older server is the real Valkey behind a
small RESP proxy that changes only what an older server would answer differently: `INFO`
reports its version (and no `valkey_version`), and `WAITAOF`, which it does not have, is
answered with its "unknown command" error. Everything else goes to Valkey as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from relay.backend import Backend, EmbeddedValkey
from relay.errors import StreamError
from relay.ingest import Ingest
from relay.keys import Keys
from relay.model import Update
from relay.redis_settings import RedisConfig


async def _read_reply(reader: asyncio.StreamReader) -> bytes:
    """One RESP2 or RESP3 reply (redis-py speaks RESP3 after HELLO 3), as raw bytes."""
    line = await reader.readline()
    kind, size = line[:1], line[1:-2]
    if kind in b"$=!" and int(size) >= 0:
        return line + await reader.readexactly(int(size) + 2)
    if kind in b"*~>%|":
        count = max(int(size), 0) * (2 if kind in b"%|" else 1)
        return line + b"".join([await _read_reply(reader) for _ in range(count)])
    return line


async def _read_request(reader: asyncio.StreamReader) -> list[bytes]:
    """One request (an array of bulk strings, as redis-py sends them)."""
    count = int((await reader.readline())[1:-2])
    args = []
    for _ in range(count):
        size = int((await reader.readline())[1:-2])
        args.append((await reader.readexactly(size + 2))[:-2])
    return args


def _as_old_info(reply: bytes, version: str) -> bytes:
    kind, body = reply[:1], reply.partition(b"\r\n")[2]
    lines = []
    for line in body[:-2].split(b"\r\n"):
        if line.startswith((b"valkey_version:", b"server_name:")):
            continue
        if line.startswith(b"redis_version:"):
            line = b"redis_version:" + version.encode()
        lines.append(line)
    text = b"\r\n".join(lines)
    return kind + b"%d\r\n%s\r\n" % (len(text), text)  # "=" keeps its "txt:" prefix


class OldRedis:
    """A unix-socket proxy in front of Valkey answering as Redis `version` would."""

    def __init__(self, upstream: Path, version: str | None, socket_path: Path) -> None:
        self.upstream, self.version, self.socket_path = upstream, version, socket_path
        self.commands: list[str] = []
        self.missing = {"WAITAOF"} if version is not None else set()  # what it answers "unknown"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(str(self.upstream))
        try:
            while True:
                args = await _read_request(reader)
                name = args[0].decode().upper()
                self.commands.append(name)
                if name in self.missing:
                    rest = " ".join(f"'{a.decode()}'" for a in args[1:])
                    writer.write(
                        f"-ERR unknown command '{name}', with args beginning with: {rest} \r\n"
                        .encode()
                    )  # fmt: skip
                else:
                    up_writer.write(b"".join(
                        [b"*%d\r\n" % len(args)] + [b"$%d\r\n%s\r\n" % (len(a), a) for a in args]
                    ))  # fmt: skip
                    reply = await _read_reply(up_reader)
                    if self.version is not None and name == "INFO" and reply[:1] in b"$=":
                        reply = _as_old_info(reply, self.version)
                    writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            up_writer.close()
            writer.close()


@contextlib.asynccontextmanager
async def old_redis(valkey: EmbeddedValkey, version: str | None) -> AsyncIterator[OldRedis]:
    directory = Path(tempfile.mkdtemp(prefix="lr-old-", dir="/tmp"))
    proxy = OldRedis(valkey.socket_path, version, directory / "redis.sock")
    server = await asyncio.start_unix_server(proxy.serve, str(proxy.socket_path))
    try:
        yield proxy
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.asynccontextmanager
async def server_config(client: aioredis.Redis, name: str, value: str) -> AsyncIterator[None]:
    """CONFIG SET on the shared test server for one test, then back."""
    before = (await client.config_get(name))[name]
    await client.config_set(name, value)
    try:
        yield
    finally:
        await client.config_set(name, before)
        for _ in range(600):  # turning appendonly back on rewrites the AOF: let it finish
            if not int((await client.info("persistence")).get("aof_rewrite_in_progress", 0)):
                break
            await asyncio.sleep(0.05)


async def _publish_through(url: str) -> tuple[Ingest, str]:
    """What `relay run` and `relay post` do: open the backend, accept one update."""
    async with Backend(RedisConfig(url=url)) as redis_client:
        ingest = Ingest(redis_client, Keys(), ["ukraine"], max_backlog=1000)
        accepted = await ingest.publish(Update("u1", "ukraine", headline="Talks resume"))
        return ingest, accepted.entry_id


def _durability_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("durability ")]


async def test_redis_7_0_with_everysec_accepts_and_says_what_holds(
    valkey: EmbeddedValkey, client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # The shared server fsyncs every write (tests/conftest.py); this one as a default Redis.
    async with (
        server_config(client, "appendfsync", "everysec"),
        old_redis(valkey, "7.0.15") as redis_7_0,
    ):
        _, entry_id = await _publish_through(redis_7_0.url)
    assert entry_id and await client.xlen(Keys().updates) == 1
    assert "WAITAOF" not in redis_7_0.commands  # it would answer "unknown command"
    [line] = _durability_lines(caplog)
    assert line.startswith("durability redis 7.0.15: no WAITAOF before 7.2 and appendfsync is "
                           "everysec: an acknowledged update survives a Redis crash, but an "
                           "operating-system crash")  # fmt: skip
    assert [r.levelname for r in caplog.records if r.getMessage() == line] == ["WARNING"]


async def test_redis_7_0_with_appendfsync_always_keeps_the_full_guarantee(
    valkey: EmbeddedValkey, client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with server_config(client, "appendfsync", "always"), old_redis(valkey, "7.0.15") as old:
        await _publish_through(old.url)
    assert "WAITAOF" not in old.commands
    [line] = _durability_lines(caplog)
    assert "appendfsync always fsyncs every write before Redis answers" in line


async def test_valkey_7_2_and_newer_acknowledges_after_waitaof(
    valkey: EmbeddedValkey, client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with old_redis(valkey, None) as as_is:  # passes everything through
        await _publish_through(as_is.url)
    assert as_is.commands.count("WAITAOF") == 1
    assert as_is.commands.index("WAITAOF") > as_is.commands.index("EXEC")
    [line] = _durability_lines(caplog)
    assert line.startswith("durability valkey 9.") or line.startswith("durability valkey 8.")
    assert "acknowledged once WAITAOF confirms it is fsynced to the AOF" in line
    assert [r.levelname for r in caplog.records if r.getMessage() == line] == ["INFO"]


async def test_without_appendonly_no_waitaof_and_a_warning(
    valkey: EmbeddedValkey, client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with server_config(client, "appendonly", "no"), old_redis(valkey, None) as as_is:
        await _publish_through(as_is.url)
    assert "WAITAOF" not in as_is.commands
    [line] = _durability_lines(caplog)
    assert "appendonly is off" in line


async def test_a_server_older_than_6_2_is_refused(valkey: EmbeddedValkey) -> None:
    async with old_redis(valkey, "6.0.20") as redis_6_0:
        with pytest.raises(StreamError, match=r"Redis 6\.0\.20 is too old: .* needs 6\.2"):
            await _publish_through(redis_6_0.url)


async def test_a_managed_redis_that_refuses_config_get_is_taken_at_its_weakest(
    valkey: EmbeddedValkey, client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # Managed services often rename or disable CONFIG: the fsync policy is then unknown.
    caplog.set_level(logging.INFO)
    async with server_config(client, "appendfsync", "always"), old_redis(valkey, "7.0.15") as old:
        old.missing.add("CONFIG")
        await _publish_through(old.url)
    assert "CONFIG" in old.commands and "WAITAOF" not in old.commands
    [line] = _durability_lines(caplog)
    assert (
        "appendfsync is unknown (CONFIG GET refused): an acknowledged update survives a Redis"
        in line
    )
