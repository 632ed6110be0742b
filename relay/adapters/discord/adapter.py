"""`DiscordAdapter`: the Discord platform behind `relay.adapter.Adapter`, on discord.py."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from relay.adapter import SHARED_MARGIN, Adapter, AdapterContext, Budget, Pace, no_pace
from relay.adapters.discord import render as R
from relay.adapters.discord.commands import SlashCommands
from relay.adapters.discord.delivery import Delivery, ForumMode, target
from relay.bot_settings import DiscordBot, discord_bots
from relay.config import Config, DiscordConfig, TopicConfig
from relay.errors import ConfigError
from relay.health import Health
from relay.model import Destination, Update

log = logging.getLogger(__name__)
READY_WITHIN = 60.0


def bot_id_from_token(token: str) -> str:
    """The bot's user id, which Discord encodes (base64) in the token's first segment."""
    first = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(first + "=" * (-len(first) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded.isdigit():
        return decoded
    if first.isdigit():  # a plain id (some test tokens)
        return first
    raise ValueError("not a Discord bot token: its first segment is not an encoded user id")


def point_discord_py_at(settings: DiscordConfig) -> None:
    """Aim discord.py's REST base and gateway at `api_url` / `gateway_url` when they differ from
    Discord's. Both are class attributes: one Discord client per process."""
    if settings.api_url != DiscordConfig.api_url:
        discord.http.Route.BASE = settings.api_url.rstrip("/")
    if settings.gateway_url != DiscordConfig.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


class DiscordAdapter(Adapter):
    """Renders updates as embeds, delivers them, and serves the slash commands."""

    platform = "discord"

    def __init__(
        self,
        config: Config,
        *,
        forum_threads: ForumMode = "topic",
        crosspost: bool = True,
        crosspost_per_hour: int = 10,
        progress_interval: float = 3.0,
        progress_timeout: float = 600.0,
        answer_within: float = 2.0,
        guild_ready_timeout: float = 2.0,
        bot: DiscordBot | None = None,
    ) -> None:
        self.config = config
        self.settings = config.discord
        bots = discord_bots(self.settings)
        self.bot = bot = bot or bots[0]
        self.bot_name, self.several_bots = bot.name, len(bots) > 1
        self.budget_settings = bot.budgets or self.settings.budgets
        try:
            self.bot_id = bot_id_from_token(bot.token)
        except ValueError:
            expected = f"a Discord bot token in {bot.token_env}"
            at = [b.name for b in bots].index(bot.name) if bot in bots else 0
            key = f"discord.bots[{at}].token_env" if self.settings.bots else "discord.token_env"
            raise ConfigError(config.path, key, expected) from None
        self.client = discord.Client(
            intents=discord.Intents(guilds=True),
            max_ratelimit_timeout=self.budget_settings.max_ratelimit_wait,
            guild_ready_timeout=guild_ready_timeout,
        )
        self.delivery = Delivery(
            self.client, self.bot_id, forum_threads=forum_threads, crosspost=crosspost,
            crosspost_per_hour=crosspost_per_hour,
        )  # fmt: skip
        self.options: dict[str, Any] = {
            "progress_interval": progress_interval,
            "progress_timeout": progress_timeout,
            "answer_within": answer_within,
        }
        self.slash: SlashCommands | None = None
        self._task: asyncio.Task[None] | None = None

    # -- budgets and rendering ------------------------------------------------------------------

    def budgets(self, dest: Destination) -> tuple[Budget, ...]:
        b = self.budget_settings
        return (
            # No bursts: Discord counts fixed windows that open with their first request, and
            # a burst on top of the steady rate could put two windows' worth into one.
            Budget(f"discord:{self.bot_id}:global", b.global_per_second, 1.0,
                   margin=SHARED_MARGIN),
            Budget(self.delivery.channel_key(target(dest)), b.per_channel, b.per_channel_seconds),
        )  # fmt: skip

    def render(self, update: Update, topic: TopicConfig) -> Sequence[dict[str, Any]]:
        return list(R.render_cached(update, topic))

    # -- delivery -------------------------------------------------------------------------------

    async def send(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        *,
        pace: Pace = no_pace,
        sent: tuple[str, ...] = (),
    ) -> tuple[str, ...]:
        return await self.delivery.send(dest, update, topic, pace, sent)

    async def edit(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        message_ids: tuple[str, ...],
        *,
        pace: Pace = no_pace,
    ) -> tuple[str, ...]:
        return await self.delivery.edit(dest, update, topic, message_ids, pace)

    async def delete(self, dest: Destination, message_ids: tuple[str, ...]) -> None:
        await self.delivery.delete(dest, message_ids)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, context: AdapterContext) -> None:
        """Log in, connect the gateway (channel cache, commands) and sync the slash commands."""
        point_discord_py_at(self.settings)
        if context.commands is not None:
            self.slash = SlashCommands(self.client, context, bot_name=self.bot_name,
                                       **self.options)  # fmt: skip
        self.delivery.media = context.media  # stored photos are uploaded from there
        await self.client.login(self.bot.token)
        await self.delivery.open(self.bot.token, context.budgets)
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gw")
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait({self._task, ready}, timeout=READY_WITHIN,
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # why the connection ended
            raise TimeoutError("the Discord gateway did not become ready")
        if self.slash is not None:
            await self.slash.sync(self.settings.command_guild_ids)
        log.info("discord ready bot=%s guilds=%d", self.bot_id, len(self.client.guilds))

    def background(self) -> Sequence[asyncio.Task[Any]]:
        return () if self._task is None else (self._task,)

    async def health(self) -> Health:
        """The gateway connected (its socket open) and the session ready."""
        ws = self.client.ws
        connected = ws is not None and ws.open and not self.client.is_closed()
        ready = self.client.is_ready()
        return Health(connected and ready, {"connected": connected, "ready": ready})

    async def aclose(self) -> None:
        if self.slash is not None:
            await self.slash.aclose()
        await self.delivery.close()
        await self.client.close()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5.0)
            self._task = None
