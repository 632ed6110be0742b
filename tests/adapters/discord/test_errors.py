"""Every Discord failure mapped to the relay's own errors, seen through a real discord.Client."""

from __future__ import annotations

import pytest
from relay_sandbox.discord import DiscordSandbox, FaultRates

from relay.adapters.discord import DiscordAdapter
from relay.config import Config, TopicConfig
from relay.errors import Gone, Transient
from relay.model import Destination, Update
from tests.sandbox.discord.conftest import Newsroom

U = Update(id="u1", topic="ukraine", headline="Dam breached", body="Water everywhere.")


def dest(channel_id: int) -> Destination:
    return Destination("discord", str(channel_id))


@pytest.fixture
def topic(discord_config: Config) -> TopicConfig:
    found = discord_config.topic("ukraine")
    assert found is not None
    return found


async def test_unknown_channel_is_gone(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, topic: TopicConfig
) -> None:
    await adapter.send(dest(newsroom.live_id), U, topic)  # the channel type is cached now
    sandbox.control.delete_channel(newsroom.live_id)
    with pytest.raises(Gone) as gone:
        await adapter.send(dest(newsroom.live_id), U, topic)
    assert "10003 Unknown Channel" in gone.value.reason
    assert gone.value.destination == f"discord:{newsroom.live_id}"


async def test_missing_access_and_a_removed_bot_are_gone(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, topic: TopicConfig
) -> None:
    with pytest.raises(Gone) as hidden:
        await adapter.send(dest(newsroom.hidden_id), U, topic)
    assert "50001 Missing Access" in hidden.value.reason
    sandbox.control.remove_bot(newsroom.bot.application_id, newsroom.guild_id)
    with pytest.raises(Gone) as removed:
        await adapter.send(dest(newsroom.live_id), U, topic)
    assert "50001 Missing Access" in removed.value.reason


async def test_missing_permissions_are_gone_with_the_permission_named(
    adapter: DiscordAdapter, newsroom: Newsroom, topic: TopicConfig
) -> None:
    with pytest.raises(Gone) as readonly:
        await adapter.send(dest(newsroom.readonly_id), U, topic)
    # without Send Messages, Discord implicitly denies Embed Links too
    assert readonly.value.reason == (
        "discord 50013 Missing Permissions: the bot lacks Send Messages, Embed Links"
    )
    with pytest.raises(Gone) as noembed:
        await adapter.send(dest(newsroom.noembed_id), U, topic)
    assert noembed.value.reason == "discord 50013 Missing Permissions: the bot lacks Embed Links"


async def test_a_short_rate_limit_is_waited_out_by_discord_py(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, topic: TopicConfig
) -> None:
    sandbox.control.fail_next("create_message", status=429, retry_after=0.05)
    await adapter.send(dest(newsroom.live_id), U, topic)
    assert [r.status for r in sandbox.control.requests("create_message")] == [429, 200]


async def test_server_and_network_errors_are_transient(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, topic: TopicConfig
) -> None:
    d = dest(newsroom.live_id)
    await adapter.send(d, U, topic)
    sandbox.control.fail_next("create_message", status=503, message="503: Service Unavailable")
    with pytest.raises(Transient) as server:
        await adapter.send(d, U, topic)
    assert "503" in server.value.reason
    sandbox.control.set_faults(FaultRates(drop=1.0))
    with pytest.raises(Transient) as network:
        await adapter.send(d, U, topic)
    assert "network error" in network.value.reason


async def test_edit_and_delete_map_errors_too(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, topic: TopicConfig
) -> None:
    d = dest(newsroom.live_id)
    ids = await adapter.send(d, U, topic)
    sandbox.control.fail_next("edit_message", status=403, code=50001, message="Missing Access")
    with pytest.raises(Gone):
        await adapter.edit(d, U, topic, ids)
    sandbox.control.fail_next("delete_message", status=503, message="503: Service Unavailable")
    with pytest.raises(Transient):
        await adapter.delete(d, ids)
