"""Bad destinations given to `relay subscribe`/`unsubscribe`/`subscriptions`: exit 2 naming the
argument, no traceback, and no subscription stored (run as the operator runs it: a subprocess).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml

from relay import model
from relay.config import Config
from relay.dead_letters import DeadLetters
from relay.keys import Keys
from relay.model import Destination, Update
from relay.subscriptions import Subscriptions

from ..conftest import BASE_CONFIG

KEYS = Keys()
NAME = "must be a name of letters, digits, '_', '-' or '.'"
TELEGRAM = "must be an integer like -1001234567890, or @username"
SNOWFLAKE = "must be a channel id (a snowflake: digits)"

# (what it attacks, argv after `relay --config …`, what stderr must say)
CASES: list[tuple[str, list[str], str]] = [
    ("an empty console name", ["subscribe", "console", "", "ukraine"], f"chat: {NAME}, got ''"),
    ("a separator in a console name", ["subscribe", "console", "a:b", "ukraine"],
     f"chat: {NAME}, got 'a:b'"),
    ("a space in a console name", ["subscribe", "console", "a b", "ukraine"], f"chat: {NAME}"),
    ("a console name of dots", ["subscribe", "console", "..", "ukraine"], f"chat: {NAME}"),
    ("an ANSI escape in a console name", ["subscribe", "console", "x\x1b[2J", "ukraine"],
     "chat: " + NAME + ", got 'x\\x1b[2J'"),
    ("a separator for a key", ["subscribe", "console", "x|ukraine", "ukraine"], f"chat: {NAME}"),
    ("a console name of 65 characters", ["subscribe", "console", "n" * 65, "ukraine"],
     f"chat: {NAME}"),
    ("a Telegram chat that is a word", ["subscribe", "telegram", "abc", "ukraine"],
     f"chat: {TELEGRAM}"),
    ("a Telegram chat with a trailing space", ["subscribe", "telegram", "-100 ", "ukraine"],
     f"chat: {TELEGRAM}"),
    ("a Telegram username too short", ["subscribe", "telegram", "@ab", "ukraine"],
     f"chat: {TELEGRAM}"),
    ("a Telegram chat of 21 digits", ["subscribe", "telegram", "-" + "1" * 21, "ukraine"],
     f"chat: {TELEGRAM}"),
    ("a negative Discord channel", ["subscribe", "discord", "-5", "ukraine"],
     f"chat: {SNOWFLAKE}"),
    ("a Discord channel with letters", ["subscribe", "discord", "12ab", "ukraine"],
     f"chat: {SNOWFLAKE}"),
    ("thread 0", ["subscribe", "telegram", "-100", "ukraine", "--thread", "0"],
     "thread: must be a positive integer, got '0'"),
    ("a negative thread", ["subscribe", "telegram", "-100", "ukraine", "--thread=-7"],
     "thread: must be a positive integer, got '-7'"),
    ("a thread that is a word", ["subscribe", "telegram", "-100", "ukraine", "--thread", "x"],
     "thread: must be a positive integer"),
    ("an empty thread", ["subscribe", "telegram", "-100", "ukraine", "--thread", ""],
     "thread: must be a positive integer, got ''"),
    ("an unknown platform", ["subscribe", "sms", "5", "ukraine"], "invalid choice: 'sms'"),
    ("unsubscribe an empty name", ["unsubscribe", "console", ""], f"chat: {NAME}"),
    ("list an empty name", ["subscriptions", "console", ""], f"chat: {NAME}"),
    ("list a separator", ["subscriptions", "telegram", "100:7"], f"chat: {TELEGRAM}"),
]  # fmt: skip


def _relay(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay.cli", "--config", str(config_file), *args],
        capture_output=True, text=True, env=dict(os.environ), timeout=60,
    )  # fmt: skip


async def _subscriptions(client: aioredis.Redis) -> dict[bytes, Any]:
    """Every key `relay.subscriptions` owns, with its members."""
    owned = [KEYS.destinations(), KEYS.config_channels, "*:subscribers", "*}:topics"]
    found: dict[bytes, Any] = {}
    for pattern in owned:
        for key in await client.keys(pattern):
            found[key] = sorted(await client.smembers(key))
    return found


@pytest.fixture
def config_file(tmp_path: Path, config: Config) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(yaml.safe_dump({**BASE_CONFIG, "redis": {"url": config.redis.url}}))
    return path


@pytest.mark.parametrize(("argv", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_a_bad_destination_exits_2_naming_the_argument_and_stores_nothing(
    config_file: Path, client: aioredis.Redis, argv: list[str], message: str
) -> None:
    await Subscriptions(client, KEYS).subscribe(Destination("console", "desk"), ["climate"])
    before = await _subscriptions(client)
    result = await asyncio.to_thread(_relay, config_file, *argv)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert await _subscriptions(client) == before


async def test_a_good_destination_is_still_subscribed(
    config_file: Path, client: aioredis.Redis
) -> None:
    result = await asyncio.to_thread(
        _relay, config_file, "subscribe", "telegram", "@newsch", "ukraine", "--thread", "7"
    )
    assert result.stdout.strip() == "telegram:@newsch:7: subscribed to ukraine", result.stderr
    subs = Subscriptions(client, KEYS)
    assert await subs.topics(Destination.parse("telegram:@newsch:7")) == ["ukraine"]


async def test_retrying_a_dead_letter_whose_destination_is_bad_keeps_it_and_retries_the_rest(
    config_file: Path, client: aioredis.Redis
) -> None:
    """The fan-out dead-letters a stored subscriber that is no destination (written around
    `subscribe`); retrying it must keep it with the reason, not stop the retry of the others."""
    update = model.encode(Update(id="u-1", topic="ukraine", headline="Talks"))
    dead = DeadLetters(client, KEYS)
    await dead.add("u-1", update, "subscriber 'console:a b': no destination", "console:a b")
    await dead.add("u-1", update, "delivery failed", "console:desk")
    result = await asyncio.to_thread(_relay, config_file, "dead-letters", "retry")
    assert result.returncode == 0, result.stderr
    kept, queued = result.stdout.splitlines()
    assert kept.endswith(
        ": kept: its destination is invalid (chat: must be a name of letters, digits, '_', '-' "
        "or '.', got 'a b')"
    )
    assert queued.endswith(": queued again for console:desk")
    assert [d.destination for d in await dead.recent()] == ["console:a b"]
