"""The `harness` fixture: the adapter contract suite runs once per adapter (memory, Telegram,
Discord), each against its own sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from relay.config import Config
from tests.adapters.contract import Harness
from tests.adapters.contract.discord import DiscordHarness
from tests.adapters.contract.memory import MemoryHarness
from tests.adapters.contract.telegram import TelegramHarness

HARNESSES: dict[str, Any] = {
    "memory": MemoryHarness,
    "telegram": TelegramHarness,
    "discord": DiscordHarness,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One case per adapter, less those that lack what a test is marked to need
    (`@pytest.mark.needs(MOVED)`): a case a platform cannot have is not a skipped test.
    `test_contract.py` checks that every capability an adapter lacks is explained."""
    if "harness" not in metafunc.fixturenames:
        return
    needs = metafunc.definition.get_closest_marker("needs")
    names = [n for n, h in HARNESSES.items() if needs is None or needs.args[0] in h.capabilities]
    metafunc.parametrize("harness", names, indirect=True)


@pytest.fixture
async def harness(
    request: pytest.FixtureRequest, make_config: Callable[..., Config]
) -> AsyncIterator[Harness]:
    """One adapter, started against its platform, with the means to break and read that platform."""
    async with HARNESSES[request.param].running(make_config=make_config) as h:
        yield h
