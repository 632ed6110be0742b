"""Crossposts are counted in Redis: a restarted relay (a new adapter on the same Valkey) never
publishes past Discord's 10 per channel and hour, and a refused crosspost is one log line."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis
from relay_sandbox.discord import DiscordLimits, DiscordSandbox

from relay.adapter import AdapterContext
from relay.adapters.discord.crosspost import crosspost_budget
from relay.budgets import Budgets
from relay.config import Config
from relay.model import Destination, Update
from tests.adapters.discord.conftest import make_adapter
from tests.sandbox.discord.conftest import Newsroom


async def _publish(config: Config, client: aioredis.Redis, channel: int, ids: range) -> None:
    """One relay process's life: start, send updates to the channel, let crossposts finish."""
    topic = config.topic("ukraine")
    assert topic is not None
    adapter = make_adapter(config)
    await adapter.start(AdapterContext(budgets=Budgets(client)))
    try:
        for i in ids:
            update = Update(f"u{i}", "ukraine", headline=f"Update {i}")
            await adapter.send(Destination("discord", str(channel)), update, topic)
        async with asyncio.timeout(10):  # a 429 makes discord.py sleep up to an hour
            await adapter.delivery.settle()
    finally:
        await adapter.aclose()


async def test_a_restarted_relay_never_crossposts_an_11th_time(
    discord_config: Config, sandbox: DiscordSandbox, newsroom: Newsroom,
    client: aioredis.Redis, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # Discord's 10 crossposts per channel and hour (messages: no wait, to keep the test short)
    sandbox.limits = DiscordLimits().with_bucket("create", 50, 1.0)
    caplog.set_level(logging.INFO, "relay.adapters.discord")
    await _publish(discord_config, client, newsroom.news_id, range(10))
    await _publish(discord_config, client, newsroom.news_id, range(10, 12))  # after a restart

    requests = sandbox.control.requests("crosspost_message")
    assert [r.status for r in requests] == [200] * 5  # a burst of 5 now, then one per 10 min
    crossposted = [v.crossposted for v in sandbox.control.transcript(newsroom.news_id)]
    assert len(crossposted) == 12 and sum(crossposted) == 5
    skipped = [r.getMessage() for r in caplog.records if "crosspost skipped" in r.getMessage()]
    assert len(skipped) == 7 and all("(hourly limit)" in line for line in skipped)


async def test_the_budget_never_lets_more_than_10_into_any_hour() -> None:
    """GCRA: `burst` at once, then one per `per / rate`; an hour holds at most burst + rate - 1."""
    for per_hour in (1, 2, 10, 30):
        b = crosspost_budget("1", 2, per_hour)
        interval = b.per / b.rate
        times = [0.0] * b.burst + [interval * k for k in range(1, 200)]
        worst = max(sum(1 for t in times if s <= t < s + 3600) for s in times)
        assert worst <= per_hour and b.key == "discord:1:crosspost:2"
