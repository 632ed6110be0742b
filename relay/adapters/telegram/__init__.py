"""The Telegram adapter: HTML rendering, delivery and chat commands via python-telegram-bot."""

from __future__ import annotations

from typing import TextIO

from relay.adapters.telegram.adapter import TelegramAdapter
from relay.adapters.telegram.render import TelegramMessage, render
from relay.bot_settings import telegram_bots
from relay.config import Config


def create(config: Config, out: TextIO | None = None) -> list[TelegramAdapter]:
    """The entry point `relay run` loads when `telegram.enabled` is set: one adapter per bot."""
    return [TelegramAdapter(config, bot=bot) for bot in telegram_bots(config.telegram)]


__all__ = ["TelegramAdapter", "TelegramMessage", "create", "render"]
