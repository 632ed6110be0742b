"""Readiness tells the truth: `/readyz` is 503 while a platform or Redis is away, 200 once back.

As an operator's probe meets it: `relay run` as a subprocess with both sandboxes (a Discord
gateway outage), with the Telegram sandbox behind a link that is cut and restored (the Bot
API unreachable), or its own Valkey (stopped and started); in process, a stream entry older than
`api.ready_max_lag` makes the stream not ready. `/healthz` stays 200 throughout: the process
is alive and rides the outages out.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from relay_sandbox.discord.ratelimit import DiscordLimits
from relay_sandbox.discord.server import DiscordSandbox
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.memory import MemoryAdapter
from relay.api import make_app
from relay.app import Relay
from relay.backend import EmbeddedValkey
from relay.config import Config
from relay.keys import Keys

from .helpers import free_port
from .test_durability import own_valkey  # noqa: F401 - a fixture
from .test_supervision import HANG, _config, _exit, _run

Probe = tuple[int, dict[str, Any]]


async def _get(port: int, path: str) -> Probe:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, await r.json()


async def _until(
    port: int, proc: asyncio.subprocess.Process, test: Callable[[Probe], bool]
) -> Probe:
    """Poll `/readyz` until `test` holds on its answer; the process must stay up meanwhile."""
    last: Probe | None = None
    async with asyncio.timeout(HANG):
        while proc.returncode is None:
            try:
                last = await _get(port, "/readyz")
                if test(last):
                    return last
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"relay run exited; last /readyz: {last}")


def _ready(probe: Probe) -> bool:
    return probe[0] == 200


async def test_readyz_is_503_while_the_discord_gateway_is_down_and_200_once_back(
    tmp_path: Path, config: Config
) -> None:
    async with TelegramSandbox() as tg, DiscordSandbox(limits=DiscordLimits.off()) as dc:
        bot = tg.control.create_bot("relay_bot")
        app = dc.control.create_application("live-relay")
        dc.control.invite_bot(app.application_id, dc.control.create_guild("Newsroom"))
        port = free_port()
        cfg = _config(
            tmp_path / "r.yaml", config.redis.url, console={"enabled": False},
            telegram={"enabled": True, "api_url": tg.base_url},
            discord={"enabled": True, "api_url": dc.api_base, "gateway_url": dc.gateway_url},
            api={"enabled": True, "port": port},
        )  # fmt: skip
        proc = await _run(cfg, {"TELEGRAM_TOKEN": bot.token, "DISCORD_TOKEN": app.token})
        try:
            _, before = await _until(port, proc, _ready)
            dc.control.gateway_outage(True)
            await dc.control.disconnect_gateway(app.application_id, resumable=True)
            status, during = await _until(port, proc, lambda p: not _ready(p))
            alive, health = await _get(port, "/healthz")
            dc.control.gateway_outage(False)
            _, after = await _until(port, proc, _ready)
        finally:
            proc.terminate()
            code, output = await _exit(proc)
    assert before["ready"] is True
    assert {name: c["up"] for name, c in before["components"].items()} == {
        "redis": True, "telegram": True, "discord": True, "stream": True}  # fmt: skip
    assert before["components"]["telegram"]["polling"] is True  # this worker polls
    assert status == 503 and during["ready"] is False
    assert during["components"]["discord"] == {"up": False, "connected": False, "ready": True}
    assert during["components"]["telegram"]["up"] is True
    assert during["components"]["redis"]["up"] is True
    assert alive == 200 and health["status"] == "ok", health  # alive: it reconnects
    assert health["parts"]["discord"] == "running"
    assert after["components"]["discord"] == {"up": True, "connected": True, "ready": True}
    assert code == 0, output


class Link:
    """A TCP link to the Telegram sandbox that can be cut, as a network outage does: open
    connections drop and new ones are refused; `restore` serves on the same port again."""

    def __init__(self, target: int) -> None:
        self.target, self.port = target, 0
        self.server: asyncio.Server | None = None
        self.open: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.open):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        far_reader, far_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.open |= {writer, far_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.transport.abort()
                self.open.discard(dst)

        await asyncio.gather(copy(reader, far_writer), copy(far_reader, writer))


async def test_readyz_is_503_while_the_bot_api_is_unreachable_and_200_once_back(
    tmp_path: Path, config: Config
) -> None:
    async with TelegramSandbox() as tg:
        bot = tg.control.create_bot("relay_bot")
        link = Link(tg.port)
        await link.restore()
        port = free_port()
        api_url = tg.base_url.replace(f":{tg.port}/", f":{link.port}/")
        cfg = _config(tmp_path / "r.yaml", config.redis.url, console={"enabled": False},
                      telegram={"enabled": True, "api_url": api_url},
                      api={"enabled": True, "port": port})  # fmt: skip
        proc = await _run(cfg, {"TELEGRAM_TOKEN": bot.token})
        try:
            _, before = await _until(port, proc, _ready)
            await link.cut()
            status, during = await _until(port, proc, lambda p: not _ready(p))
            await link.restore()
            _, after = await _until(port, proc, _ready)
        finally:
            proc.terminate()
            code, output = await _exit(proc)
            await link.cut()
    assert before["components"]["telegram"]["up"] is True
    assert before["components"]["telegram"]["polling"] is True
    assert status == 503 and during["ready"] is False
    telegram = during["components"]["telegram"]
    assert telegram["up"] is False and telegram["polling"] is True, during
    assert telegram["error"], during  # why: the transport's error, in one line
    assert during["components"]["redis"]["up"] is True
    assert after["components"]["telegram"]["up"] is True
    assert "error" not in after["components"]["telegram"]
    assert code == 0, output


async def test_readyz_is_503_while_redis_is_away_and_200_once_back(
    tmp_path: Path,
    own_valkey: EmbeddedValkey,  # noqa: F811
) -> None:
    port = free_port()
    cfg = _config(tmp_path / "r.yaml", own_valkey.url, console={"enabled": False},
                  api={"enabled": True, "port": port})  # fmt: skip
    proc = await _run(cfg)
    try:
        await _until(port, proc, _ready)
        await asyncio.to_thread(own_valkey.stop)
        status, away = await _until(port, proc, lambda p: not _ready(p))
        metrics = await _text(port, "/metrics")
        probe_away = await _probe(cfg)
        await asyncio.to_thread(own_valkey.start)
        _, back = await _until(port, proc, _ready)
        probe_back = await _probe(cfg)
    finally:
        proc.terminate()
        code, output = await _exit(proc)
    assert status == 503 and away["ready"] is False
    assert away["components"]["redis"]["up"] is False and away["components"]["redis"]["error"]
    assert 'relay_component_up{component="redis"} 0.0' in metrics
    assert back["components"]["redis"] == {"up": True}
    # The image's HEALTHCHECK: the config's port, not a fixed one.
    assert probe_away[0] == 1 and '"redis": {"up": false' in probe_away[1]
    assert probe_back == (0, "")
    assert code == 0, output


async def _probe(cfg: Path) -> tuple[int, str]:
    """`python -m relay.probe` as the Dockerfile's HEALTHCHECK runs it: exit status, stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay.probe", "--config", str(cfg), stderr=subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), HANG)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def _text(port: int, path: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as r:
        assert r.status == 200
        return await r.text()


@pytest.fixture
async def served(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> AsyncIterator[TestClient[Any, Any]]:
    """The API of a relay that runs nothing (on a database emptied first)."""
    async with (
        Relay(make_config(api={"ready_max_lag": 5}), adapters=[MemoryAdapter()]) as relay,
        TestClient(TestServer(make_app(relay))) as http,
    ):
        yield http


async def test_an_update_waiting_longer_than_the_bound_makes_the_stream_not_ready(
    served: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    fresh = await served.get("/readyz")
    fresh_body = await fresh.json()
    # No worker runs here: an entry stamped long ago waits, not yet read by the group.
    await client.xadd(Keys("relay").updates, {"update": "{}"}, id="1-1")
    stale = await served.get("/readyz")
    body = await stale.json()
    metrics = await (await served.get("/metrics")).text()
    assert fresh.status == 200 and fresh_body["components"]["stream"] == {
        "up": True, "lag": 0.0, "max": 5.0}  # fmt: skip
    assert stale.status == 503
    assert body["components"]["stream"]["up"] is False
    assert body["components"]["stream"]["lag"] > 5
    assert body["components"]["memory"] == {"up": True}
    assert 'relay_component_up{component="stream"} 0.0' in metrics
    assert "relay_stream_lag_seconds " in metrics
