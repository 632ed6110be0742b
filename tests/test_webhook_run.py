"""Webhook mode as an operator runs it: two `relay run` workers (subprocesses, the test Valkey)
behind a load balancer, the Telegram sandbox posting each update to it as Telegram does."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import yaml
from relay_sandbox.telegram.server import TelegramSandbox

from relay.config import Config

from .adapters.telegram.front import Front
from .conftest import BASE_CONFIG
from .helpers import free_port
from .test_supervision import HANG, _healthy

SECRET = "run-webhook_SECRET-0123456789abcdef"
PATH = "/telegram/webhook"
PUBLISHED = re.compile(r"Published update \S+ to")


async def _until(check: Any) -> None:
    async with asyncio.timeout(HANG):
        while not check():  # noqa: ASYNC110 - the state is in the sandbox
            await asyncio.sleep(0.05)


async def test_two_workers_in_webhook_mode_answer_each_command_once(
    tmp_path: Path, config: Config, client: aioredis.Redis
) -> None:
    async with TelegramSandbox() as tg, Front([]) as front:
        bot = tg.control.create_bot("relay_bot", first_name="Newsroom")
        editor = tg.control.create_user("Eda", username="eda")
        reader = tg.control.create_user("Ann", username="ann")
        ports = [free_port(), free_port()]
        env = {**os.environ, "TELEGRAM_TOKEN": bot.token, "TELEGRAM_WEBHOOK_SECRET": SECRET}
        procs, logs = [], []
        try:
            for n, port in enumerate(ports):
                data = {
                    **BASE_CONFIG,
                    "redis": {"url": config.redis.url},
                    "editors": {"telegram_users": [editor.id]},
                    "console": {"enabled": False},
                    "api": {"enabled": True, "port": port},
                    "telegram": {"enabled": True, "api_url": tg.base_url, "mode": "webhook",
                                 "webhook": {"url": front.url(PATH)}},
                }  # fmt: skip
                cfg = tmp_path / f"w{n}.yaml"
                cfg.write_text(yaml.safe_dump(data))
                logs.append(cfg.with_suffix(".log"))
                with logs[-1].open("wb") as out:
                    proc = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "relay.cli", "--verbose", "--config", str(cfg),
                        "run", "--consumer", f"hook-{n}", stdout=out, stderr=subprocess.STDOUT,
                        env=env,
                    )  # fmt: skip
                procs.append(proc)
                await _healthy(port, procs[-1])
            front.workers = [f"http://127.0.0.1:{port}" for port in ports]

            def replies(user_id: int) -> list[str]:
                shown = tg.control.transcript(user_id, bot=bot)
                return [m.content for m in shown if m.sender_id == bot.id]

            tg.control.send_message(reader.id, "/subscribe ukraine", bot=bot)
            tg.control.send_message(editor.id, "/post ukraine Corridor opens\nAt noon.", bot=bot)
            await _until(lambda: any(PUBLISHED.search(r) for r in replies(editor.id)))
            await _until(lambda: any("Corridor opens" in r for r in replies(reader.id)))
            # Later commands answered: the earlier ones were answered once.
            tg.control.send_message(reader.id, "/subscriptions", bot=bot)
            tg.control.send_message(editor.id, "/subscriptions", bot=bot)
            await _until(lambda: any(r.startswith("This chat") for r in replies(reader.id)))
            await _until(lambda: any(r.startswith("This chat") for r in replies(editor.id)))
            assert len([r for r in replies(reader.id) if r.startswith("Subscribed")]) == 1
            assert len([r for r in replies(editor.id) if PUBLISHED.search(r)]) == 1
            assert {worker for worker, _ in front.served} == {0, 1}  # both workers took posts
            assert all(status == 200 for _, status in front.served)

            calls = [r for r in tg.control.requests("setWebhook") if r.status == 200]
            assert calls and all(c.params["secret_token"] == SECRET for c in calls)
            assert all(c.params["url"] == front.url(PATH) for c in calls)
            for call in calls:
                allowed = json.loads(call.params["allowed_updates"])
                assert sorted(allowed) == ["callback_query", "channel_post", "message"]
            assert not tg.control.requests("getUpdates")
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.terminate()
            for proc in procs:
                await asyncio.wait_for(proc.wait(), HANG)
        for log in logs:
            text = log.read_text()
            assert "webhook set" in text or "ready for commands" in text, text[-2000:]
            assert SECRET not in text  # verbose logs included
