"""A relay pipeline in one process on the test Valkey: ingest → fan-out → sender → adapters."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from relay.adapter import Adapter, AdapterContext, Fleet
from relay.adapters.memory import MemoryAdapter
from relay.claims import Claims
from relay.commands import Commands
from relay.config import Config
from relay.dispatcher import Dispatcher
from relay.ingest import Ingest
from relay.keys import Keys
from relay.queues import Queues
from relay.sender import Sender
from relay.subscriptions import Subscriptions

KEYS = Keys()


def listening(commands: Commands) -> AdapterContext:
    """The context `relay.app.Relay` hands adapters, around `commands` (on its ingest's Redis)."""
    claims = Claims(commands.ingest.client, commands.ingest.keys)
    return AdapterContext(commands, claims, commands.ingest.registry, commands.subscriptions)


def count_round_trips(client: aioredis.Redis) -> list[int]:
    """Count the connections `client`'s pool hands out from now on: one per command or pipeline
    sent, so one per round trip. Read the count as `[0]` of the returned list."""
    taken = [0]
    get = client.connection_pool.get_connection

    async def counting(*args: Any, **kwargs: Any) -> Any:
        taken[0] += 1
        return await get(*args, **kwargs)  # type: ignore[no-untyped-call]

    client.connection_pool.get_connection = counting  # type: ignore[method-assign]
    return taken


def free_port() -> int:
    """A TCP port on loopback that nothing listens on at this moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Pipeline:
    """The relay's parts wired as `relay.app.Relay` wires them, driven step by step by tests."""

    def __init__(
        self,
        client: aioredis.Redis,
        config: Config,
        adapters: Sequence[Adapter] | None = None,
        worker: str = "w1",
    ) -> None:
        self.client = client
        self.config = config
        self.memory = MemoryAdapter(max_part=40)
        adapters = list(adapters) if adapters is not None else [self.memory]
        self.keys = Keys(config.redis.key_prefix, config.redis.shards)
        self.ingest = Ingest(client, self.keys, config.topic_slugs, 10_000)
        self.subs = Subscriptions(client, self.keys)
        self.queues = Queues(client, self.keys)
        self.dispatcher = Dispatcher(client, config, worker)
        self.sender = Sender(client, config, Fleet(adapters), worker)

    async def fan_out(self) -> None:
        """Process every entry in the stream (no sending)."""
        await self.dispatcher.stream.ensure_group()
        while entries := await self.dispatcher.stream.read(50, 20):
            for entry in entries:
                await self.dispatcher.process(entry)

    async def drain(self, within: float = 20.0) -> None:
        """Fan out everything, then send until no destination has work left."""
        await self.fan_out()
        stop = asyncio.Event()
        task = asyncio.create_task(self.sender.run(stop))
        try:
            async with asyncio.timeout(within):
                # A destination being served may be off the ready set for a moment (a move
                # clears the old one before it queues the new): wait for the servers too.
                while self.sender._active or await self.queues.ready.waiting():  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        finally:
            stop.set()
            await task


async def call_api(port: int, token: str, method: str, path: str, body: Any) -> dict[str, Any]:
    """A `/v1` request to `relay run`'s API on `port`, as a CMS makes it: its JSON answer (a
    2xx is asserted)."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://127.0.0.1:{port}/v1{path}"
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body,
                                                            headers=headers) as r:  # fmt: skip
        data: dict[str, Any] = await r.json()
        assert r.status in (200, 201, 202), data
        return data


async def start_relay(
    cfg: Path, env: dict[str, str], port: int, log: Path, *options: str
) -> asyncio.subprocess.Process:
    """`relay [options] --config cfg run` as a user starts it (output to `log`), once /healthz
    answers on `port`."""
    from tests.test_supervision import _healthy  # the one readiness wait of the suite

    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "relay.cli", *options, "--config", str(cfg), "run",
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    await _healthy(port, proc)
    return proc


async def stop_relay(proc: asyncio.subprocess.Process | None) -> None:
    """SIGTERM, as a supervisor stops it; SIGKILL after 30 s."""
    if proc is None or proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
