"""Telegram Bot API emulator: an aiohttp server that python-telegram-bot talks to."""
