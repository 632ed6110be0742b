"""Fixtures: a Discord sandbox with a small newsroom guild, and a real discord.py client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import pytest
from discord import app_commands
from relay_sandbox.discord import BotInfo, DiscordSandbox
from relay_sandbox.discord import permissions as P
from relay_sandbox.discord.state import ANNOUNCEMENT, FORUM, PUBLIC_THREAD
from relay_sandbox.discord.wiring import pointed_at, running_client


@dataclass(frozen=True)
class Newsroom:
    """Ids of the world every test starts from."""

    bot: BotInfo
    guild_id: int
    live_id: int  # text channel the bot may use
    news_id: int  # announcement channel
    forum_id: int
    thread_id: int  # public thread under live
    hidden_id: int  # @everyone denied VIEW_CHANNEL
    readonly_id: int  # bot denied SEND_MESSAGES
    noembed_id: int  # bot denied EMBED_LINKS
    owner_id: int
    reader_id: int
    editor_role_id: int


@pytest.fixture
async def sandbox() -> AsyncIterator[DiscordSandbox]:
    async with DiscordSandbox() as sb:
        with pointed_at(sb.api_base, sb.gateway_url):
            yield sb


@pytest.fixture
def newsroom(sandbox: DiscordSandbox) -> Newsroom:
    c = sandbox.control
    bot = c.create_application("relay-bot")
    guild = c.create_guild("Newsroom")
    live = c.create_channel(guild, "live-updates")
    news = c.create_channel(guild, "announcements", type=ANNOUNCEMENT)
    forum = c.create_channel(guild, "forum", type=FORUM)
    thread = c.create_channel(guild, "ukraine-thread", type=PUBLIC_THREAD, parent_id=live)
    hidden = c.create_channel(guild, "staff-only")
    c.set_overwrite(hidden, guild, deny=P.VIEW_CHANNEL)
    readonly = c.create_channel(guild, "read-only")
    noembed = c.create_channel(guild, "no-embeds")
    bot_role = c.invite_bot(bot.application_id, guild)
    c.set_overwrite(readonly, bot_role, deny=P.SEND_MESSAGES)
    c.set_overwrite(noembed, bot_role, deny=P.EMBED_LINKS)
    editor_role = c.create_role(guild, "editor", P.MANAGE_CHANNELS)
    reader = c.add_member(guild, name="reader")
    return Newsroom(
        bot=bot,
        guild_id=guild,
        live_id=live,
        news_id=news,
        forum_id=forum,
        thread_id=thread,
        hidden_id=hidden,
        readonly_id=readonly,
        noembed_id=noembed,
        owner_id=sandbox.world.guilds[guild].owner_id,
        reader_id=reader,
        editor_role_id=editor_role,
    )


def make_client(**options: object) -> discord.Client:
    """A discord.Client that does not wait 2 s for guilds after READY."""
    return discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05, **options)  # type: ignore[arg-type]


@pytest.fixture
async def bot_client(newsroom: Newsroom) -> AsyncIterator[discord.Client]:
    async with running_client(make_client(), newsroom.bot.token) as c:
        yield c


@pytest.fixture
async def tree_client(
    newsroom: Newsroom,
) -> AsyncIterator[tuple[discord.Client, app_commands.CommandTree[discord.Client]]]:
    """A client with a CommandTree whose commands are added by the test before syncing."""
    client = make_client()
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    async with running_client(client, newsroom.bot.token) as c:
        yield c, tree
