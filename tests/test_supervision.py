"""A part of `relay run` that dies takes the process down, saying why: never alive and useless.

As a supervisor (compose, systemd) meets it: `relay run` as a subprocess exits non-zero with one
line naming the part, after a taken API port, a Discord gateway closed for good (4004), and a
dispatcher crash. In process: `/healthz` turns 503 naming the part before anything stops.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import yaml
from relay_sandbox.discord.ratelimit import DiscordLimits
from relay_sandbox.discord.server import DiscordSandbox

from relay.adapters.memory import MemoryAdapter
from relay.app import Crashed, Relay
from relay.config import Config, TopicConfig
from relay.keys import Keys
from relay.model import Destination, Update

from .conftest import BASE_CONFIG
from .helpers import free_port
from .test_cli import relay_cmd

HANG = 60  # seconds after which a process that should have exited is a hang


def _config(path: Path, redis_url: str | None, **sections: Any) -> Path:
    path.write_text(yaml.safe_dump({**BASE_CONFIG, "redis": {"url": redis_url}, **sections}))
    return path


async def _healthy(port: int, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(HANG):
        while proc.returncode is None:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("relay run exited before it was healthy")


async def _run(cfg: Path, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay.cli", "--config", str(cfg), "run",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )  # fmt: skip


async def _exit(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    """Its exit status and everything it printed; a process still running after HANG hangs."""
    assert proc.stdout is not None
    try:
        output = await asyncio.wait_for(proc.stdout.read(), HANG)
        code = await asyncio.wait_for(proc.wait(), HANG)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return code, output.decode()


def test_a_taken_api_port_exits_non_zero_naming_the_port(tmp_path: Path, config: Config) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = _config(tmp_path / "r.yaml", config.redis.url, api={"enabled": True, "port": port})
        result = relay_cmd("--config", str(cfg), "run", timeout=HANG)
    assert result.returncode == 1
    [line] = [x for x in result.stderr.splitlines() if "ERROR" in x]
    assert f"api failed: cannot listen on 127.0.0.1:{port}" in line
    assert "Traceback" not in result.stderr


async def test_a_discord_gateway_closed_for_good_exits_non_zero_saying_why(
    tmp_path: Path, config: Config
) -> None:
    async with DiscordSandbox(limits=DiscordLimits.off()) as dc:
        app = dc.control.create_application("live-relay")
        guild = dc.control.create_guild("Newsroom")
        dc.control.invite_bot(app.application_id, guild)
        port = free_port()
        cfg = _config(
            tmp_path / "r.yaml", config.redis.url,
            discord={"enabled": True, "api_url": dc.api_base, "gateway_url": dc.gateway_url},
            api={"enabled": True, "port": port},
        )  # fmt: skip
        proc = await _run(cfg, {"DISCORD_TOKEN": app.token})
        await _healthy(port, proc)
        # Discord's answer to a token that no longer authenticates: not resumable, no retry.
        await dc.control.disconnect_gateway(app.application_id, code=4004, resumable=False)
        code, output = await _exit(proc)
    assert code == 1, output
    [line] = [x for x in output.splitlines() if " ERROR relay.app: " in x]
    assert "discord failed:" in line and "4004" in line and "stopping the relay" in line


async def test_a_crashing_dispatcher_exits_non_zero_with_its_traceback(
    tmp_path: Path, config: Config, client: aioredis.Redis
) -> None:
    keys = Keys("crash")  # a prefix of its own: the broken stream stays out of other tests
    port = free_port()
    cfg = _config(tmp_path / "r.yaml", config.redis.url,
                  api={"enabled": True, "port": port})  # fmt: skip
    cfg.write_text(cfg.read_text().replace("url:", "key_prefix: crash\n  url:"))
    proc = await _run(cfg)
    try:
        await _healthy(port, proc)
        # The stream key replaced by a string: every stream command answers WRONGTYPE, which
        # no retry mends. (A Redis outage, by contrast, is ridden out.)
        await client.set("crash:string", "not a stream")
        await client.rename("crash:string", keys.updates)  # in one step: never absent
        code, output = await _exit(proc)
    finally:
        await client.delete(keys.updates)
    assert code == 1, output
    assert " ERROR relay.app: dispatcher failed: ResponseError: WRONGTYPE" in output
    assert "Traceback" in output  # a failure nobody planned for: its traceback helps


class Watched(MemoryAdapter):
    """A memory adapter with a background task (as the Telegram poller) and sends that wait."""

    def __init__(self) -> None:
        super().__init__()
        self.die = asyncio.Event()
        self.release = asyncio.Event()
        self.sending = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self, context: Any) -> None:
        self.task = asyncio.create_task(self._poll(), name="watched-poller")

    async def _poll(self) -> None:
        await self.die.wait()
        raise RuntimeError("poller lost its connection state")

    def background(self) -> Sequence[asyncio.Task[Any]]:
        return () if self.task is None else (self.task,)

    async def send(
        self, dest: Destination, update: Update, topic: TopicConfig, **kw: Any
    ) -> tuple[str, ...]:
        self.sending.set()
        await self.release.wait()
        return await super().send(dest, update, topic, **kw)

    async def aclose(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def test_healthz_turns_503_naming_the_dead_part_before_the_relay_stops(
    client: aioredis.Redis, make_config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    cfg = make_config(api={"enabled": True, "port": port})
    adapter = Watched()
    dest = Destination("memory", "desk")
    async with Relay(cfg, adapters=[adapter]) as relay:
        relay.failure_grace = HANG  # the in-flight send, not a timer, decides when it ends
        await relay.subscriptions.subscribe(dest, ["ukraine"])
        await relay.ingest.publish(Update(id="u1", topic="ukraine", headline="In flight"))
        running = asyncio.create_task(relay.run(asyncio.Event()))
        await asyncio.wait_for(adapter.sending.wait(), HANG)
        adapter.die.set()
        async with asyncio.timeout(HANG):
            while not relay.failed:  # noqa: ASYNC110 - the state is the relay's
                await asyncio.sleep(0.01)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as r,
        ):
            status, health = r.status, await r.json()
        assert not running.done()  # still draining: readiness went false first
        adapter.release.set()
        with pytest.raises(Crashed) as crashed:
            await asyncio.wait_for(running, HANG)
    assert status == 503
    assert health["failed"] == {"memory": "RuntimeError: poller lost its connection state"}
    assert crashed.value.component == "memory"
    assert [c.op for c in adapter.calls] == ["send"]  # the send in hand was finished
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "relay.app"]
    assert record.exc_info is not None  # a bug: logged with its traceback


async def test_a_stop_is_no_failure(client: aioredis.Redis, config: Config) -> None:
    async with Relay(config, adapters=[MemoryAdapter()]) as relay:
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))
        await asyncio.sleep(0)
        stop.set()
        await asyncio.wait_for(running, HANG)
        assert relay.failed == {}


async def test_a_started_relay_freezes_its_start_up_objects_out_of_the_collector(
    client: aioredis.Redis, config: Config
) -> None:
    """A full collection over the start-up's objects stalled every delivery in flight."""
    before = gc.get_freeze_count()
    async with Relay(config, adapters=[MemoryAdapter()]):
        assert gc.get_freeze_count() > before


async def _silent_bot_api(tmp_path: Path, config: Config, stop: bool) -> tuple[int, str]:
    """`relay run` against a Bot API that accepts connections and never answers (a stuck
    proxy); stopped (SIGTERM) once start-up waits on it if `stop`: exit status and output."""
    asked = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.readline()  # the request line: start-up is waiting on the Bot API
        asked.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    api_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/bot"
    cfg = _config(tmp_path / "r.yaml", config.redis.url,
                  telegram={"enabled": True, "api_url": api_url})  # fmt: skip
    async with server:
        proc = await _run(cfg, {"TELEGRAM_TOKEN": "123456:" + "A" * 35})
        await asyncio.wait_for(asked.wait(), HANG)
        if stop:
            proc.terminate()
        code, output = await _exit(proc)
        for writer in held:
            writer.close()
    return code, output


async def test_a_stop_during_start_up_is_not_held_back_by_a_platform_that_never_answers(
    tmp_path: Path, config: Config
) -> None:
    code, output = await _silent_bot_api(tmp_path, config, stop=True)
    assert code == 0, output  # at once, cleanly: not when start-up gives up on its own
    assert "stopped during start-up" in output
    assert "could not start" not in output and "Traceback" not in output


async def test_a_platform_that_never_answers_at_start_up_fails_it_and_leaves_nothing_open(
    tmp_path: Path, config: Config
) -> None:
    code, output = await _silent_bot_api(tmp_path, config, stop=False)
    assert code == 1, output
    assert "error: telegram: could not start: Timed out" in output
    assert "Unclosed" not in output  # the half-started adapter was closed too
