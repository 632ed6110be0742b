"""Issue 12, item 9 for Telegram commands: a channel named first, quiet channel answers, plurals."""

from __future__ import annotations

import asyncio
import logging

import pytest
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.telegram.handlers import split_target
from relay.model import Destination
from tests.adapters.telegram.conftest import WAIT, wait_for
from tests.adapters.telegram.desk import Desk


def test_a_remote_chat_may_come_first_or_last() -> None:
    assert split_target("@newsch ukraine climate") == ("ukraine climate", "@newsch")
    assert split_target("-1001234567 ukraine") == ("ukraine", "-1001234567")
    assert split_target("ukraine @newsch") == ("ukraine", "@newsch")
    assert split_target("all @newsch") == ("all", "@newsch")


async def test_a_channel_named_before_the_topics(
    desk: Desk, tg: TelegramSandbox, account: Bot
) -> None:
    owner = tg.control.create_user("Olga")
    tg.control.send_message(owner.id, "hi", bot=account)
    channel = tg.control.create_chat("channel", "News", username="newsch", creator=owner.id)
    tg.control.add_bot(channel.id, account)
    assert await desk.ask(owner, "/subscribe @newsch ukraine climate") == (
        "Subscribed to War in Ukraine (ukraine), Climate summit (climate)."
    )
    assert await desk.topics(channel.id) == ["climate", "ukraine"]
    assert await desk.ask(owner, f"/unsubscribe {channel.id} climate") == (
        "Unsubscribed from Climate summit (climate)."
    )
    assert await desk.ask(owner, "/unsubscribe @newsch all") == (
        "Unsubscribed from War in Ukraine (ukraine)."
    )
    assert await desk.topics(channel.id) == []
    assert await desk.topics(owner.id) == []


async def _gone(tg: TelegramSandbox, chat: int, message_id: int) -> None:
    await wait_for(tg, chat, lambda shown: all(m.message_id != message_id for m in shown))


async def test_a_command_in_a_channel_leaves_no_loud_post_behind(
    desk: Desk, tg: TelegramSandbox, account: Bot
) -> None:
    owner = tg.control.create_user("Olga")
    channel = tg.control.create_chat("channel", "News", username="newsch", creator=owner.id)
    tg.control.add_bot(channel.id, account)
    assert desk.adapter.listener is not None
    desk.adapter.listener.channel_answer_seconds = 0.3
    answer = (await desk.say(owner, "/subscribe ukraine", chat=channel.id))[0]
    assert answer.content == "Subscribed to War in Ukraine (ukraine)."
    assert answer.disable_notification is True  # no subscriber's phone buzzes for it
    assert await desk.topics(channel.id) == ["ukraine"]
    # the command post went at once; the answer goes after the delay
    await _gone(tg, channel.id, answer.message_id)
    assert [m for m in tg.control.transcript(channel.id) if not m.service] == []


async def test_an_answer_that_cannot_be_deleted_is_logged(
    desk: Desk, tg: TelegramSandbox, account: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    owner = tg.control.create_user("Olga")
    channel = tg.control.create_chat("channel", "News", creator=owner.id)
    tg.control.add_bot(channel.id, account)
    assert desk.adapter.listener is not None
    desk.adapter.listener.channel_answer_seconds = 0.3
    caplog.set_level(logging.WARNING, "relay.adapters.telegram.handlers")
    await desk.say(owner, "/subscribe ukraine", chat=channel.id)
    tg.control.remove_bot(channel.id, account)  # before the answer's time is up
    async with asyncio.timeout(WAIT):
        while not any("could not delete the answer" in r.message for r in caplog.records):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    # the listener lives on: the next command is answered
    reader = tg.control.create_user("Ann")
    assert (await desk.ask(reader, "/topics")).startswith("Topics:")


async def test_one_subscribed_chat_is_singular(desk: Desk, editor: User, reader: User) -> None:
    await desk.pipeline.subs.subscribe(Destination("telegram", str(reader.id)), ["ukraine"])
    answer = await desk.ask(editor, "/post ukraine Talks resume")
    assert answer.endswith(": on its way to 1 subscribed chat."), answer
    await desk.pipeline.subs.subscribe(Destination("telegram", str(editor.id)), ["ukraine"])
    answer = await desk.ask(editor, "/post ukraine Talks end")
    assert answer.endswith(": on its way to 2 subscribed chats."), answer
