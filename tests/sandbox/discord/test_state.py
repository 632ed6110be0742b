"""Snowflake ids: unique, increasing, and readable as creation times by clients."""

from __future__ import annotations

import time

from relay_sandbox.discord.state import DISCORD_EPOCH_MS, Snowflakes


def test_snowflakes_are_unique_increasing_and_carry_the_time() -> None:
    ids = Snowflakes()
    many = [ids.next() for _ in range(10_000)]
    assert many == sorted(set(many))
    created_ms = (many[0] >> 22) + DISCORD_EPOCH_MS
    assert abs(created_ms / 1000 - time.time()) < 60
