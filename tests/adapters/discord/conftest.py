"""Fixtures: a Discord sandbox with the newsroom guild, a config pointing at it, the adapter."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from relay_sandbox.discord import DiscordLimits, DiscordSandbox
from relay_sandbox.discord.wiring import pointed_at

from relay.adapter import AdapterContext
from relay.adapters.discord import DiscordAdapter
from relay.budgets import Budgets
from relay.commands import Commands
from relay.config import Config, DiscordConfig, Editors
from relay.ingest import Ingest
from relay.keys import Keys
from relay.subscriptions import Subscriptions
from tests.helpers import listening
from tests.sandbox.discord.conftest import Newsroom, newsroom

__all__ = ["newsroom"]  # the sandbox suite's world, re-used as a fixture here

KEYS = Keys()
FAST = {"guild_ready_timeout": 0.05, "progress_interval": 0.05, "answer_within": 1.0}


@pytest.fixture
async def sandbox() -> AsyncIterator[DiscordSandbox]:
    """A sandbox without rate limits (tests that need them switch them on)."""
    async with DiscordSandbox(limits=DiscordLimits.off()) as sb:
        with pointed_at(sb.api_base, sb.gateway_url):
            yield sb


@pytest.fixture
def editor_id(sandbox: DiscordSandbox, newsroom: Newsroom) -> int:
    """A member listed as an editor by user id (no special permissions)."""
    return sandbox.control.add_member(newsroom.guild_id, name="editor")


@pytest.fixture
def discord_config(
    config: Config, sandbox: DiscordSandbox, newsroom: Newsroom, editor_id: int
) -> Config:
    settings = DiscordConfig(
        enabled=True,
        token=newsroom.bot.token,
        api_url=sandbox.api_base,
        gateway_url=sandbox.gateway_url,
        command_guild_ids=(newsroom.guild_id,),
    )
    editors = Editors(discord_users=frozenset({editor_id}), discord_roles=frozenset())
    return dataclasses.replace(config, discord=settings, editors=editors)


def make_adapter(config: Config, **options: Any) -> DiscordAdapter:
    return DiscordAdapter(config, **{**FAST, **options})


@pytest.fixture
async def adapter(discord_config: Config, client: aioredis.Redis) -> AsyncIterator[DiscordAdapter]:
    """The adapter connected (REST + gateway), without commands, with budgets (crossposts)."""
    a = make_adapter(discord_config)
    await a.start(AdapterContext(budgets=Budgets(client)))
    yield a
    await a.aclose()


@pytest.fixture
def commands(client: aioredis.Redis, discord_config: Config) -> Commands:
    ingest = Ingest(client, KEYS, discord_config.topic_slugs, 10_000)
    return Commands(discord_config, ingest, Subscriptions(client, KEYS))


@pytest.fixture
async def bot(discord_config: Config, commands: Commands) -> AsyncIterator[DiscordAdapter]:
    """The adapter listening for slash commands (synced to the newsroom guild)."""
    a = make_adapter(discord_config)
    budgets = Budgets(commands.ingest.client)
    await a.start(dataclasses.replace(listening(commands), budgets=budgets))
    yield a
    await a.aclose()
