"""Discord workers killed with SIGKILL mid fan-out: every channel shows every update exactly once.

Real `relay run` processes deliver to 2,000 channels of the sandbox (running in this test's
process); one of them is killed three times at random points. A send whose answer was lost in a
kill is repeated when the job is served again, and the sandbox, like Discord, answers the repeat
with the first message because of `nonce` + `enforce_nonce`: so no channel ever shows a copy twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from pathlib import Path
from typing import Any

import yaml
from relay_sandbox.discord.ratelimit import DiscordLimits
from relay_sandbox.discord.server import DiscordSandbox

from relay.config import Config
from relay.ingest import Ingest
from relay.model import Destination, Update
from relay.subscriptions import Subscriptions

from ...conftest import BASE_CONFIG
from ...helpers import KEYS
from ...test_chaos import Workers, settled

CHANNELS = 2000
UPDATES = 3


async def test_sigkilled_discord_workers_never_show_a_copy_twice(
    tmp_path: Path, client: Any, config: Config
) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    async with DiscordSandbox(limits=DiscordLimits.off(), dispatch_messages=False) as sandbox:
        control = sandbox.control
        app = control.create_application("live-relay")
        guild = control.create_guild("Chaos newsroom")
        channels = [control.create_channel(guild, f"live-{i}") for i in range(CHANNELS)]
        control.invite_bot(app.application_id, guild)
        cfg = tmp_path / "r.yaml"
        cfg.write_text(yaml.safe_dump({
            **BASE_CONFIG,
            "redis": {"url": config.redis.url},
            "console": {"enabled": False},
            "discord": {"enabled": True, "token_env": "CHAOS_DISCORD_TOKEN",
                        "api_url": sandbox.api_base, "gateway_url": sandbox.gateway_url,
                        "budgets": {"global_per_second": 5000, "per_channel": 100,
                                    "per_channel_seconds": 1}},
            "dispatcher": {"claim_idle_seconds": 1, "lease_seconds": 1, "concurrency": 32},
        }))  # fmt: skip
        subs = Subscriptions(client, KEYS)
        for i in range(0, CHANNELS, 50):
            batch = channels[i : i + 50]
            await asyncio.gather(
                *(subs.subscribe(Destination("discord", str(c)), ["ukraine"]) for c in batch)
            )
        ingest = Ingest(client, KEYS, config.topic_slugs, 10_000)
        for i in range(UPDATES):
            await ingest.publish(Update(f"d{i}", "ukraine", headline=f"Discord update {i}"))

        workers = Workers(cfg, tmp_path, env={"CHAOS_DISCORD_TOKEN": app.token})
        workers.start("a0")
        workers.start("b0")
        try:
            for round_ in range(1, 4):
                await asyncio.sleep(rng.uniform(1.0, 3.0))
                workers.kill(f"a{round_ - 1}")
                workers.start(f"a{round_}")
            async with asyncio.timeout(240):
                while not await settled(client):  # noqa: ASYNC110 - the state lives in Redis
                    await asyncio.sleep(0.2)
        finally:
            # In a thread: the sandbox answers from this event loop, and a worker still starting
            # up (syncing its slash commands) needs it to get to its SIGTERM handling.
            await asyncio.to_thread(workers.stop)

        for channel in channels:
            shown = [json.loads(m.embeds_json)[0]["title"]
                     for m in control.transcript(channel, include_deleted=False)]  # fmt: skip
            assert sorted(shown) == [f"Discord update {i}" for i in range(UPDATES)], channel
