"""The adapter's construction: bot id from the token, budgets, command sync scope."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from relay_sandbox.discord import DiscordSandbox

from relay.adapters.discord import DiscordAdapter, bot_id_from_token
from relay.commands import Commands
from relay.config import Config
from relay.errors import ConfigError
from relay.model import Destination, Update
from tests.adapters.discord.conftest import make_adapter
from tests.helpers import listening
from tests.sandbox.discord.conftest import Newsroom


def test_the_bot_id_is_read_from_the_token() -> None:
    encoded = base64.b64encode(b"1234567890123456789").decode().rstrip("=")
    assert bot_id_from_token(f"{encoded}.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789ab") == (
        "1234567890123456789"
    )
    assert bot_id_from_token("987654321.sandbox-secret") == "987654321"
    with pytest.raises(ValueError):
        bot_id_from_token("not-a-token")


def test_a_bad_token_is_a_config_error_naming_the_variable(discord_config: Config) -> None:
    bad = dataclasses.replace(discord_config.discord, token="nope")
    with pytest.raises(ConfigError) as error:
        DiscordAdapter(dataclasses.replace(discord_config, discord=bad))
    assert error.value.key == "discord.token_env" and "DISCORD_TOKEN" in error.value.expected


def test_budgets_share_the_bot_prefix(discord_config: Config, newsroom: Newsroom) -> None:
    adapter = make_adapter(discord_config)
    bot = adapter.bot_id
    assert bot == str(newsroom.bot.application_id)  # the sandbox's token starts with it
    glob, channel = adapter.budgets(Destination("discord", "42"))
    assert (glob.key, glob.rate, glob.per, glob.burst) == (f"discord:{bot}:global", 50.0, 1.0, 1)
    # 5 per 5 s, evenly: never more than 5 in any fixed 5-second window
    assert (channel.key, channel.rate, channel.per, channel.burst) == (
        f"discord:{bot}:channel:42", 5, 5.0, 1)  # fmt: skip
    threaded = adapter.budgets(Destination("discord", "42", "77"))[1]
    assert threaded.key == f"discord:{bot}:channel:77"  # Discord counts the thread's bucket


async def test_commands_sync_globally_without_guild_ids(
    discord_config: Config, commands: Commands, sandbox: DiscordSandbox
) -> None:
    settings = dataclasses.replace(discord_config.discord, command_guild_ids=())
    adapter = make_adapter(dataclasses.replace(discord_config, discord=settings))
    await adapter.start(listening(commands))
    await adapter.aclose()
    scopes = {c.guild_id for c in sandbox.world.commands.values()}
    assert scopes == {None}
    assert sorted(c.name for c in sandbox.world.commands.values()) == [
        "delete", "edit", "help", "post", "preview", "recent", "settings", "subscribe",
        "subscriptions", "topics", "unsubscribe",
    ]  # fmt: skip


async def test_a_thread_named_in_the_destination_receives_the_copy(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    topic = discord_config.topic("elections")
    assert topic is not None
    dest = Destination("discord", str(newsroom.live_id), str(newsroom.thread_id))
    update = Update(id="t1", topic="elections", headline="Polls open")
    [mid] = await adapter.send(dest, update, topic)
    assert [str(v.id) for v in sandbox.control.transcript(newsroom.thread_id)] == [mid]
    assert sandbox.control.transcript(newsroom.live_id) == []
    await adapter.delete(dest, (mid,))
    assert sandbox.control.transcript(newsroom.thread_id)[0].deleted
