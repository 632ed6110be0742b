"""Rate-limit bucket maths with an injected clock, and discord.py living with our 429s."""

from __future__ import annotations

import aiohttp
import discord
import pytest
from relay_sandbox.discord import DiscordLimits, DiscordSandbox
from relay_sandbox.discord.ratelimit import BucketLimit, RateLimiter
from relay_sandbox.discord.wiring import running_client

from tests.sandbox.discord.conftest import Newsroom, make_client


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_per_channel_bucket_counts_and_resets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(DiscordLimits().with_bucket("create", 2, 5.0), clock)

    def send(channel: str) -> bool:
        return limiter.check(bot="b", bucket="create", major=channel, global_limit=True).allowed

    first = limiter.check(bot="b", bucket="create", major="1", global_limit=True)
    assert (first.limit, first.remaining, first.reset_after) == (2, 1, 5.0)
    clock.now += 1.0
    assert send("1")
    refused = limiter.check(bot="b", bucket="create", major="1", global_limit=True)
    assert not refused.allowed and refused.retry_after == pytest.approx(4.0)
    assert send("2")  # another channel is another bucket
    clock.now += 3.9
    assert not send("1")
    clock.now += 0.2  # the window that opened at t=0 has passed
    assert send("1")
    headers = refused.headers()
    assert headers["Via"] == "1.1 google" and headers["Retry-After"] == "4"
    assert (headers["X-RateLimit-Scope"], headers["X-RateLimit-Global"]) == ("user", "false")
    assert refused.body() == {
        "message": "You are being rate limited.",
        "retry_after": 4.0,
        "global": False,
    }
    assert headers["X-RateLimit-Bucket"] == first.headers()["X-RateLimit-Bucket"]


def test_global_limit_spans_routes_and_skips_interactions() -> None:
    clock = FakeClock()
    limits = DiscordLimits(global_limit=BucketLimit(3, 1.0))
    limiter = RateLimiter(limits, clock)
    verdicts = [
        limiter.check(bot="b", bucket="create", major=str(i), global_limit=True) for i in range(4)
    ]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].is_global and verdicts[-1].headers()["X-RateLimit-Scope"] == "global"
    assert limiter.check(bot="b", bucket="interaction", major="9", global_limit=False).allowed
    assert limiter.check(bot="other", bucket="create", major="1", global_limit=True).allowed
    clock.now += 1.0
    assert limiter.check(bot="b", bucket="create", major="5", global_limit=True).allowed


def test_off_never_refuses() -> None:
    limiter = RateLimiter(DiscordLimits.off(), FakeClock())
    assert all(
        limiter.check(bot="b", bucket="create", major="1", global_limit=True).allowed
        for _ in range(1000)
    )


async def _exhaust(sandbox: DiscordSandbox, newsroom: Newsroom, n: int) -> None:
    """Another worker sharing the bot token uses up the channel's bucket."""
    url = f"{sandbox.api_base}/channels/{newsroom.live_id}/messages"
    headers = {"Authorization": f"Bot {newsroom.bot.token}"}
    async with aiohttp.ClientSession() as session:
        for i in range(n):
            async with session.post(
                url, json={"content": f"other worker {i}"}, headers=headers
            ) as r:
                assert r.status == 200


async def test_discord_py_waits_out_a_429_and_retries(
    sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    sandbox.limits = DiscordLimits().with_bucket("create", 2, 1.0)
    await _exhaust(sandbox, newsroom, 2)
    async with running_client(make_client(), newsroom.bot.token) as client:
        await client.get_partial_messageable(newsroom.live_id).send("mine")
    statuses = [r.status for r in sandbox.control.requests("create_message")]
    assert statuses == [200, 200, 429, 200]
    assert [v.content for v in sandbox.control.transcript(newsroom.live_id)][-1] == "mine"


async def test_long_retry_after_surfaces_as_rate_limited(
    sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    sandbox.limits = DiscordLimits().with_bucket("create", 1, 60.0)
    await _exhaust(sandbox, newsroom, 1)
    async with running_client(make_client(max_ratelimit_timeout=30.0), newsroom.bot.token) as c:
        with pytest.raises(discord.RateLimited) as limited:
            await c.get_partial_messageable(newsroom.live_id).send("mine")
    assert 30.0 < limited.value.retry_after <= 60.0


async def test_scripted_failures_are_retried_or_raised(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    control = sandbox.control
    control.fail_next("create_message", status=429, retry_after=0.05)
    live = bot_client.get_partial_messageable(newsroom.live_id)
    await live.send("after a scripted 429")
    control.fail_next("create_message", status=403, code=50013, message="Missing Permissions")
    with pytest.raises(discord.Forbidden) as forbidden:
        await live.send("x")
    assert forbidden.value.code == 50013
    statuses = [r.status for r in control.requests("create_message")]
    assert statuses == [429, 200, 403]
