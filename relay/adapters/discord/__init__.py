"""Discord: embeds, delivery and slash commands through discord.py."""

from __future__ import annotations

from typing import TextIO

from relay.adapters.discord.adapter import DiscordAdapter, bot_id_from_token
from relay.bot_settings import discord_bots
from relay.config import Config


def create(config: Config, out: TextIO | None = None) -> list[DiscordAdapter]:
    """The entry point `relay run` loads when `discord.enabled` is set: one adapter per bot."""
    return [DiscordAdapter(config, bot=bot) for bot in discord_bots(config.discord)]


__all__ = ["DiscordAdapter", "bot_id_from_token", "create"]
