"""Fixtures for the Telegram sandbox: a running emulator, a bot account, a PTB Bot on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox, ptb_bot
from telegram import Bot as PtbBot

SPECS = Path(__file__).resolve().parents[3] / ".." / "shared" / "specs"


@dataclass
class Clock:
    """A hand-driven clock for the flood limits."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    """A running sandbox with flood limits off (limit tests build their own)."""
    async with TelegramSandbox(limits=TelegramLimits.off()) as sandbox:
        yield sandbox


@pytest.fixture
def account(tg: TelegramSandbox) -> Bot:
    return tg.control.create_bot("news_bot", first_name="Newsroom")


@pytest.fixture
def reader(tg: TelegramSandbox, account: Bot) -> User:
    """A person who has started the bot (so the bot may write to them)."""
    user = tg.control.create_user("Ann", username="ann")
    tg.control.send_message(user.id, "/start", bot=account)
    return user


@pytest.fixture
async def bot(tg: TelegramSandbox, account: Bot) -> AsyncIterator[PtbBot]:
    """python-telegram-bot's real Bot over loopback, initialised (getMe done)."""
    async with ptb_bot(tg, account.token) as b:
        yield b
