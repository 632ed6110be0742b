"""What an operator reads from `relay run`, run as a subprocess with both sandboxes: JSON lines
with the ids as fields and every secret masked; the platforms going away as one warning line per
retry with its wait, no traceback; and no notice about voice support."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from relay_sandbox.discord.ratelimit import DiscordLimits
from relay_sandbox.discord.server import DiscordSandbox
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.server import TelegramSandbox

from relay.config import Config

from .conftest import BASE_CONFIG
from .helpers import free_port

TG_TOKEN = "7071999:TGsecretTOKENfortheJSONlog-abcdefgh"
API_TOKEN = "api-SECRET-token-4-the-json-log"
VOICE = ("PyNaCl", "davey", "voice will NOT be supported")


class Platforms:
    """Both sandboxes with a bot, a channel each, and the relay's config pointing at them."""

    def __init__(self, tg: TelegramSandbox, dc: DiscordSandbox) -> None:
        self.tg, self.dc = tg, dc
        bot = tg.control.create_bot("log_test_bot", token=TG_TOKEN)
        self.tg_channel = tg.control.create_chat("channel", "Log test live").id
        tg.control.add_bot(self.tg_channel, bot)
        app = dc.control.create_application("live-relay")
        guild = dc.control.create_guild("Newsroom")
        self.dc_channel = dc.control.create_channel(guild, "live")
        dc.control.invite_bot(app.application_id, guild)
        self.env = {**os.environ, "TELEGRAM_TOKEN": TG_TOKEN, "DISCORD_TOKEN": app.token,
                    "RELAY_API_TOKEN": API_TOKEN}  # fmt: skip
        self.secrets = (TG_TOKEN, app.token, API_TOKEN)

    def config(self, path: Path, redis_url: str, port: int, **sections: Any) -> Path:
        path.write_text(yaml.safe_dump({
            **BASE_CONFIG,
            "redis": {"url": redis_url},
            "console": {"enabled": False},
            "channels": [
                {"destination": f"telegram:{self.tg_channel}", "topics": ["ukraine"]},
                {"destination": f"discord:{self.dc_channel}", "topics": ["ukraine"]},
            ],
            "telegram": {"enabled": True, "api_url": self.tg.base_url},
            "discord": {"enabled": True, "api_url": self.dc.api_base,
                        "gateway_url": self.dc.gateway_url},
            "api": {"enabled": True, "host": "127.0.0.1", "port": port},
            **sections,
        }))  # fmt: skip
        return path


class Run:
    """`relay run` as a subprocess, its stdout and stderr together in one file."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    async def until(self, predicate: Callable[[str], bool], within: float = 60.0) -> str:
        async with asyncio.timeout(within):
            while not predicate(text := self.text()):  # noqa: ASYNC110 - the state is a file
                await asyncio.sleep(0.1)
        return text


@contextlib.asynccontextmanager
async def relay_run(cfg: Path, env: dict[str, str], out: Path, *flags: str) -> AsyncIterator[Run]:
    with out.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "relay.cli", *flags, "--config", str(cfg), "run",
            stdout=sink, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:
            yield Run(out)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 60)


async def _healthy(port: int) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(60):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.2)


async def _post(port: int, headline: str) -> str:
    """Post an update to `ukraine` through the running relay's API; its id."""
    update = {"topic": "ukraine", "headline": headline}
    async with aiohttp.ClientSession() as http:
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        async with http.post(f"http://127.0.0.1:{port}/v1/updates", json=update,
                             headers=auth) as r:  # fmt: skip
            assert r.status == 201, await r.text()
            return str((await r.json())["id"])


async def test_json_lines_carry_the_ids_and_mask_every_secret(
    tmp_path: Path, config: Config
) -> None:
    async with (
        TelegramSandbox(limits=TelegramLimits.off()) as tg,
        DiscordSandbox(limits=DiscordLimits.off()) as dc,
    ):
        platforms, port = Platforms(tg, dc), free_port()
        cfg = platforms.config(tmp_path / "r.yaml", config.redis.url or "", port,
                               logging={"format": "json", "level": "debug"})  # fmt: skip
        # --verbose keeps the library's request lines, with the token in their URLs, on.
        async with relay_run(cfg, platforms.env, tmp_path / "run.out", "--verbose") as run:
            await _healthy(port)
            tg.control.faults.fail_next(
                "sendMessage", chat_id=platforms.tg_channel, error=(500, "Internal Server Error")
            )
            update_id = await _post(port, "Logs a machine can read")
            await run.until(lambda _: len(tg.control.transcript(platforms.tg_channel)) >= 1)
            await run.until(lambda _: len(dc.control.transcript(platforms.dc_channel)) >= 1)
        logged = run.text()

    lines = [json.loads(line) for line in logged.splitlines()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    fanned = [x for x in lines if x["message"].startswith("fanned out")]
    assert fanned and fanned[0]["update"] == update_id and fanned[0]["worker"]
    retry = next(x for x in lines if x["message"].startswith("retry dest=telegram"))
    assert retry["attempt"] == 1 and retry["update"] == update_id
    assert retry["dest"] == f"telegram:{platforms.tg_channel}"
    sent = {x["dest"] for x in lines if x["message"].startswith("send dest=")}
    assert sent == {f"telegram:{platforms.tg_channel}", f"discord:{platforms.dc_channel}"}
    assert any("bot***/getUpdates" in x["message"] for x in lines)  # the mask ran on them
    for secret in platforms.secrets:
        assert secret not in logged
    assert not any(word in logged for word in VOICE)


async def test_platforms_away_are_one_warning_per_retry(tmp_path: Path, config: Config) -> None:
    stack = contextlib.AsyncExitStack()
    tg = await stack.enter_async_context(TelegramSandbox(limits=TelegramLimits.off()))
    dc = await stack.enter_async_context(DiscordSandbox(limits=DiscordLimits.off()))
    async with stack:
        platforms, port = Platforms(tg, dc), free_port()
        cfg = platforms.config(tmp_path / "r.yaml", config.redis.url or "", port)
        async with relay_run(cfg, platforms.env, tmp_path / "run.out") as run:
            await _healthy(port)
            await run.until(lambda text: "polling for commands" in text and "discord ready" in text)
            started = len(run.text())
            await stack.aclose()  # both platforms unreachable from now on
            retries = re.compile(r"WARNING .*telegram polling failed .*; retrying in ([\d.]+)s")
            reconnects = re.compile(r"WARNING .*discord gateway unreachable .*; reconnecting in")
            await run.until(
                lambda text: (
                    len(retries.findall(text[started:])) >= 4
                    and len(reconnects.findall(text[started:])) >= 2
                )
            )
        logged = run.text()

    assert "Traceback" not in logged
    after = logged[started:]
    # One line per failed getUpdates, each with PTB's next wait: 1 s, then 1.5 times longer.
    waits = [float(w) for w in retries.findall(after)]
    assert waits[:4] == [1.0, 1.5, 2.25, 3.38]
    for line in after.splitlines():
        if "discord gateway" in line or "telegram polling" in line:
            assert line.split(" ")[2] == "WARNING", line
    assert not any(word in logged for word in VOICE)


async def test_delivering_at_info_logs_no_line_per_request(tmp_path: Path, config: Config) -> None:
    async with (
        TelegramSandbox(limits=TelegramLimits.off()) as tg,
        DiscordSandbox(limits=DiscordLimits.off()) as dc,
    ):
        platforms, port = Platforms(tg, dc), free_port()
        cfg = platforms.config(tmp_path / "r.yaml", config.redis.url or "", port)
        async with relay_run(cfg, platforms.env, tmp_path / "run.out") as run:
            await _healthy(port)
            await _post(port, "Quiet logs")
            await run.until(lambda _: len(tg.control.transcript(platforms.tg_channel)) >= 1)
            await run.until(lambda _: len(dc.control.transcript(platforms.dc_channel)) >= 1)
        logged = run.text()

    assert "INFO relay.dispatcher: fanned out" in logged  # INFO lines are there…
    for marker in ("HTTP Request", "/sendMessage", "/getUpdates", "/messages"):
        assert marker not in logged  # …but none per HTTP request (httpx, aiohttp, PTB, discord)
