"""The Telegram adapter: HTML rendering, delivery and chat commands via python-telegram-bot."""

from __future__ import annotations

from typing import TextIO

from relay.adapters.telegram.adapter import TelegramAdapter
from relay.adapters.telegram.render import TelegramMessage, render
from relay.config import Config


def create(config: Config, out: TextIO | None = None) -> TelegramAdapter:
    """The entry point `relay run` loads when `telegram.enabled` is set."""
    return TelegramAdapter(config)


__all__ = ["TelegramAdapter", "TelegramMessage", "create", "render"]
