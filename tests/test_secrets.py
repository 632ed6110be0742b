"""No secret in any line a user sees: `relay run` as a subprocess, with recognisable tokens, through
commands, delivery, platform errors, reconnects, a refused request, the operator commands, and a
start-up crash with a traceback. Every byte of output, `/metrics`, `/healthz` and `relay status`
is searched for every token."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
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
from .test_cli import relay_cmd

TG_TOKEN = "7071999:TGsecretTOKENfortheLOGtest-abcdefgh"
API_TOKEN = "api-SECRET-token-4-the-log-test"


def _config(path: Path, redis_url: str, tg_url: str, discord: DiscordSandbox, port: int,
            channels: list[dict[str, Any]]) -> Path:  # fmt: skip
    path.write_text(yaml.safe_dump({
        **BASE_CONFIG,
        "redis": {"url": redis_url},
        "console": {"enabled": False},
        "channels": channels,
        "telegram": {"enabled": True, "api_url": tg_url},
        "discord": {"enabled": True, "api_url": discord.api_base,
                    "gateway_url": discord.gateway_url},
        "api": {"enabled": True, "host": "127.0.0.1", "port": port},
    }))  # fmt: skip
    return path


async def _until(predicate: Any, within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - the state lives in the sandbox
            await asyncio.sleep(0.1)


async def test_no_token_in_any_output_of_a_running_relay(tmp_path: Path, config: Config) -> None:
    async with (
        TelegramSandbox(limits=TelegramLimits.off()) as tg,
        DiscordSandbox(limits=DiscordLimits.off()) as dc,
    ):
        bot = tg.control.create_bot("secret_test_bot", token=TG_TOKEN)
        channel = tg.control.create_chat("channel", "Secret test live")
        tg.control.add_bot(channel.id, bot)
        reader = tg.control.create_user("Reader")
        app = dc.control.create_application("live-relay")
        guild = dc.control.create_guild("Newsroom")
        text = dc.control.create_channel(guild, "live")
        dc.control.invite_bot(app.application_id, guild)
        secrets = [TG_TOKEN, app.token, API_TOKEN]

        port = free_port()
        cfg = _config(tmp_path / "r.yaml", config.redis.url or "", tg.base_url, dc, port, [
            {"destination": f"telegram:{channel.id}", "topics": ["ukraine"]},
            {"destination": f"discord:{text}", "topics": ["ukraine"]},
        ])  # fmt: skip
        env = {**os.environ, "TELEGRAM_TOKEN": TG_TOKEN, "DISCORD_TOKEN": app.token,
               "RELAY_API_TOKEN": API_TOKEN}  # fmt: skip
        out = (tmp_path / "run.out").open("wb")
        # --verbose keeps the per-request library lines (URLs with the Telegram token) on: the
        # hardest case for the mask.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "relay.cli", "--verbose", "--config", str(cfg), "run",
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        seen: list[str] = []
        try:
            auth = {"Authorization": f"Bearer {API_TOKEN}"}
            async with aiohttp.ClientSession() as http:
                async with asyncio.timeout(60):
                    while True:
                        try:
                            async with http.get(f"{base}/healthz") as r:
                                if r.status == 200:
                                    break
                        except aiohttp.ClientError:
                            pass
                        await asyncio.sleep(0.2)
                # Platform errors and a reconnect on both sides, then a delivery.
                tg.control.faults.fail_next(
                    "sendMessage", chat_id=channel.id, error=(500, "Internal Server Error")
                )
                tg.control.faults.fail_next("getUpdates", drop=True)
                dc.control.fail_next("create_message", status=500, message="oops")
                update = {"topic": "ukraine", "headline": "Secrets stay out of logs"}
                async with http.post(f"{base}/v1/updates", json=update, headers=auth) as r:
                    assert r.status == 201, await r.text()
                async with http.post(f"{base}/v1/updates", json=update,
                                     headers={"Authorization": "Bearer wrong"}) as r:  # fmt: skip
                    assert r.status == 401
                # A reader's command through the long poll.
                tg.control.send_message(reader.id, "/topics", bot=bot)
                await _until(lambda: len(tg.control.transcript(reader.id)) >= 2)
                await _until(lambda: len(tg.control.transcript(channel.id)) >= 1)
                await _until(lambda: len(dc.control.transcript(text)) >= 1)
                for path in ("/metrics", "/healthz"):
                    async with http.get(base + path, headers=auth) as r:
                        seen.append(await r.text())
            for args in (("status",), ("dead-letters", "list")):
                result = await asyncio.to_thread(relay_cmd, "--config", str(cfg), *args, env=env)
                seen += [result.stdout, result.stderr]
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
            out.close()
        logged = (tmp_path / "run.out").read_text()
        assert "bot***/getUpdates" in logged  # the mask ran on the library's request lines
        for text_ in [logged, *seen]:
            for secret in secrets:
                assert secret not in text_


def test_no_token_in_a_start_up_crash(tmp_path: Path, config: Config) -> None:
    closed = free_port()  # nothing listens there: the Bot API is unreachable at start
    cfg = tmp_path / "r.yaml"
    cfg.write_text(yaml.safe_dump({
        **BASE_CONFIG,
        "redis": {"url": config.redis.url},
        "console": {"enabled": False},
        "telegram": {"enabled": True, "api_url": f"http://127.0.0.1:{closed}/bot"},
    }))  # fmt: skip
    result = relay_cmd("--config", str(cfg), "run", env={"TELEGRAM_TOKEN": TG_TOKEN})
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "telegram: could not start" in output  # it says why, in one line
    assert "Traceback" not in output
    assert TG_TOKEN not in output
