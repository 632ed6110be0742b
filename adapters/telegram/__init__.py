"""The Telegram adapter: HTML rendering, delivery and chat commands via python-telegram-bot."""

from __future__ import annotations

from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.render import TelegramMessage, render

__all__ = ["TelegramAdapter", "TelegramMessage", "render"]
