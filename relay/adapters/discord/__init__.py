"""Discord: embeds, delivery and slash commands through discord.py."""

from __future__ import annotations

from typing import TextIO

from relay.adapters.discord.adapter import DiscordAdapter, bot_id_from_token
from relay.config import Config


def create(config: Config, out: TextIO | None = None) -> DiscordAdapter:
    """The entry point `relay run` loads when `discord.enabled` is set."""
    return DiscordAdapter(config)


__all__ = ["DiscordAdapter", "bot_id_from_token", "create"]
