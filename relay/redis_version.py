"""Which Redis or Valkey the relay talks to, and which durability guarantee ingest gives on it.

Ingest answers an editor only once the update is as durable as the server allows. Redis and
Valkey 7.2 added `WAITAOF`, which waits until the write is fsynced to the append-only file; an
older server answers it with "unknown command". So at start the relay reads the server's
version (`INFO server`), whether AOF is on (`INFO persistence`) and its fsync policy
(`CONFIG GET appendfsync`), and picks one `Guarantee`, logged once at start:

- `waitaof` (7.2 and newer, AOF on): acknowledged after `WAITAOF` confirms the local fsync;
- `always` (older, `appendfsync always`): the server fsyncs every write before it answers;
- `written` (older, another fsync policy): a crash of Redis itself keeps the update, an
  operating-system crash or power loss can lose the last second or so;
- `none` (AOF off): a Redis restart loses what came after the last snapshot.

Servers older than 6.2 are refused (the relay uses `XAUTOCLAIM` and `GETDEL`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from relay.errors import StreamError
from relay.keys import as_str

log = logging.getLogger(__name__)
MINIMUM = (6, 2)
WAITAOF_SINCE = (7, 2)


class Guarantee(Enum):
    """How durable an update is when ingest acknowledges it (see the module docstring)."""

    WAITAOF = "waitaof"
    ALWAYS = "always"
    WRITTEN = "written"
    NONE = "none"


def parse_version(text: str) -> tuple[int, int, int]:
    """`"7.0.15"` → `(7, 0, 15)`; missing parts count as 0; no number at all is (0, 0, 0)."""
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return (*parts, 0, 0, 0)[:3]  # type: ignore[return-value]


@dataclass(frozen=True)
class Server:
    """What the relay learnt about its server at start."""

    name: str  # "redis" or "valkey"
    version: str  # as the server reports it (Valkey reports both, its own is shown)
    redis_version: tuple[int, int, int]  # what the features follow (Valkey 8 reports 7.2.4)
    aof: bool
    appendfsync: str | None  # None when CONFIG GET is refused (managed services)

    @property
    def guarantee(self) -> Guarantee:
        if not self.aof:
            return Guarantee.NONE
        if self.redis_version >= WAITAOF_SINCE:
            return Guarantee.WAITAOF
        return Guarantee.ALWAYS if self.appendfsync == "always" else Guarantee.WRITTEN

    def describe(self) -> str:
        """One log line: the server and what an acknowledged update survives on it."""
        head = f"{self.name} {self.version}: "
        fsync = self.appendfsync or "unknown (CONFIG GET refused)"
        match self.guarantee:
            case Guarantee.WAITAOF:
                return head + (
                    "an update is acknowledged once WAITAOF confirms it is fsynced to the AOF "
                    "(it survives a Redis crash and an operating-system crash)"
                )
            case Guarantee.ALWAYS:
                return head + (
                    "no WAITAOF before 7.2; appendfsync always fsyncs every write before "
                    "Redis answers (an acknowledged update survives a Redis crash and an "
                    "operating-system crash)"
                )
            case Guarantee.WRITTEN:
                return head + (
                    f"no WAITAOF before 7.2 and appendfsync is {fsync}: an acknowledged update "
                    "survives a Redis crash, but an operating-system crash or power loss can "
                    "lose the last second or so (set appendfsync always, or use 7.2+)"
                )
        return head + (
            "appendonly is off: a Redis restart loses the updates acknowledged since the "
            "last snapshot (set appendonly yes)"
        )


async def probe(client: aioredis.Redis, node: Any = None) -> Server:
    """Read the server's version and persistence settings; refuse a server older than 6.2.
    (`node`: the node of a cluster to ask.)"""
    on: dict[str, Any] = {} if node is None else {"target_nodes": node}
    info = await client.info("server", **on)
    reported = str(info.get("redis_version", "0"))
    features = parse_version(reported)
    if features[:2] < MINIMUM:
        raise StreamError(f"Redis {reported} is too old: live-relay needs 6.2 or newer")
    name = "valkey" if "valkey_version" in info else str(info.get("server_name", "redis"))
    version = str(info.get("valkey_version", reported))
    persistence = await client.info("persistence", **on)
    aof = bool(int(persistence.get("aof_enabled", 0)))
    try:
        config_get = client.execute_command  # a server command, on no key
        answer = await config_get("CONFIG GET", "appendfsync", **on)  # type: ignore[no-untyped-call]
        flat = [] if isinstance(answer, dict) else list(answer)
        pairs = (
            answer.items() if isinstance(answer, dict) else zip(flat[::2], flat[1::2], strict=True)
        )
        values = {as_str(k): as_str(v) for k, v in pairs}
        appendfsync: str | None = values.get("appendfsync") or None
    except RedisError:
        appendfsync = None
    return Server(name, version, features, aof, appendfsync)


async def check(client: aioredis.Redis, node: Any = None) -> Server:
    """`probe`, and log the guarantee once (a warning when it is weaker than WAITAOF's)."""
    server = await probe(client, node)
    level = logging.INFO if server.guarantee is Guarantee.WAITAOF else logging.WARNING
    log.log(level, "durability %s", server.describe())
    return server
