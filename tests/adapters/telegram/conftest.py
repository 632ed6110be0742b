"""Fixtures: a Telegram sandbox, the relay's bot on it, a config pointing there, the adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.render import DisplayedMessage
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapter import AdapterContext
from relay.adapters.telegram import TelegramAdapter
from relay.config import Config
from relay.model import Destination

# Only a guard against hanging: answers arrive as soon as the long poll wakes.
WAIT = 10.0


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with TelegramSandbox(limits=TelegramLimits.off()) as sandbox:
        yield sandbox


@pytest.fixture
def account(tg: TelegramSandbox) -> Bot:
    return tg.control.create_bot("relay_bot", first_name="Newsroom")


@pytest.fixture
def editor(tg: TelegramSandbox, account: Bot) -> User:
    """A configured editor who has started the bot."""
    user = tg.control.create_user("Eda", username="eda")
    tg.control.send_message(user.id, "hello", bot=account)
    return user


@pytest.fixture
def reader(tg: TelegramSandbox, account: Bot) -> User:
    """A reader who has started the bot (so it may write to them)."""
    user = tg.control.create_user("Ann", username="ann")
    tg.control.send_message(user.id, "hi", bot=account)
    return user


@pytest.fixture
def tg_config(
    make_config: Callable[..., Config], tg: TelegramSandbox, account: Bot, editor: User
) -> Callable[..., Config]:
    """A config for the sandbox's bot, with section overrides (e.g. topics=[...])."""

    def build(**sections: Any) -> Config:
        config = make_config(**sections)
        telegram = replace(config.telegram, enabled=True, token=account.token,
                           api_url=tg.base_url)  # fmt: skip
        editors = replace(config.editors, telegram_users=frozenset({editor.id}))
        return replace(config, telegram=telegram, editors=editors, console=replace(
            config.console, enabled=False))  # fmt: skip

    return build


@pytest.fixture
async def adapter(tg_config: Callable[..., Config]) -> AsyncIterator[TelegramAdapter]:
    """The adapter, ready to send (no command listener)."""
    adapter = TelegramAdapter(tg_config(), poll_timeout=1.0, progress_interval=0.05)
    await adapter.start(AdapterContext())
    yield adapter
    await adapter.aclose()


@dataclass(frozen=True)
class Group:
    """A supergroup an admin made, with the bot in it: where pins are tried."""

    tg: TelegramSandbox
    id: int

    @property
    def dest(self) -> Destination:
        return Destination("telegram", str(self.id))

    def pinned(self) -> list[int]:
        return [m.message_id for m in self.tg.control.transcript(self.id) if m.pinned]


def admin_group(tg: TelegramSandbox, account: Bot) -> Group:
    owner = tg.control.create_user("Olga")
    group = tg.control.create_chat("supergroup", "Desk", creator=owner.id)
    tg.control.add_bot(group.id, account)
    return Group(tg, group.id)


def texts(tg: TelegramSandbox, chat_id: int, bot: Bot | None = None) -> list[str]:
    """What the chat shows, oldest first (text or caption)."""
    return [m.content for m in tg.control.transcript(chat_id, bot=bot)]


async def wait_for(
    tg: TelegramSandbox,
    chat_id: int,
    predicate: Callable[[list[DisplayedMessage]], bool],
    bot: Bot | None = None,
) -> list[DisplayedMessage]:
    """Wait until the chat's transcript satisfies `predicate`; return it."""
    async with asyncio.timeout(WAIT):
        while True:
            shown = list(tg.control.transcript(chat_id, bot=bot))
            if predicate(shown):
                return shown
            await asyncio.sleep(0.02)


@pytest.fixture
async def desk(
    client: Any, tg: TelegramSandbox, account: Bot, tg_config: Callable[..., Config]
) -> AsyncIterator[Any]:
    """The relay bot listening for commands (long polling the sandbox), on the test Valkey."""
    from relay.commands import Commands
    from tests.adapters.telegram.desk import Desk
    from tests.helpers import Pipeline, listening

    config = tg_config()
    adapter = TelegramAdapter(config, poll_timeout=1.0, progress_interval=0.05)
    pipeline = Pipeline(client, config, adapters=[adapter])
    commands = Commands(config, pipeline.ingest, pipeline.subs)
    await adapter.start(listening(commands))
    try:
        yield Desk(tg, account, adapter, pipeline, commands)
    finally:
        await adapter.aclose()
