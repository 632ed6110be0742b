"""Discord: embeds, delivery and slash commands through discord.py."""

from __future__ import annotations

from adapters.discord.adapter import DiscordAdapter, bot_id_from_token

__all__ = ["DiscordAdapter", "bot_id_from_token"]
