"""PTB's Application long-polls the sandbox and handles what users do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from relay_sandbox.telegram.records import Bot
from relay_sandbox.telegram.server import TelegramSandbox, ptb_application_builder
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

# Only a guard against hanging: the updates arrive as soon as the long poll wakes.
WAIT = 10.0


@pytest.fixture
async def seen(
    tg: TelegramSandbox, account: Bot
) -> AsyncIterator[asyncio.Queue[tuple[str, Update]]]:
    """Run a real Application with handlers; yields what the handlers saw."""
    queue: asyncio.Queue[tuple[str, Update]] = asyncio.Queue()

    async def on_subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        queue.put_nowait(("subscribe", update))
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Subscribed: {' '.join(context.args or [])}")

    async def on_channel_post(update: Update, context: Any) -> None:
        queue.put_nowait(("channel_post", update))

    async def on_text(update: Update, context: Any) -> None:
        queue.put_nowait(("text", update))

    app: Application[Any, Any, Any, Any, Any, Any] = ptb_application_builder(
        tg, account.token
    ).build()
    app.add_handler(CommandHandler("subscribe", on_subscribe))
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POSTS, on_channel_post))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=5)
        yield queue
        await app.updater.stop()
        await app.stop()


async def next_seen(queue: asyncio.Queue[tuple[str, Update]]) -> tuple[str, Update]:
    return await asyncio.wait_for(queue.get(), WAIT)


async def test_private_command_and_reply(
    tg: TelegramSandbox, account: Bot, seen: asyncio.Queue[tuple[str, Update]]
) -> None:
    user = tg.control.create_user("Ann")
    events = tg.control.events()
    tg.control.send_message(user.id, "/subscribe ukraine", bot=account)
    kind, update = await next_seen(seen)
    assert kind == "subscribe"
    assert update.message is not None and update.message.text == "/subscribe ukraine"
    first = await asyncio.wait_for(anext(events), WAIT)
    assert (first.kind, first.message.sender) == ("message_sent", "Ann")
    event = await asyncio.wait_for(anext(events), WAIT)
    assert (event.kind, event.chat_id, event.message.text) == (
        "message_sent",
        user.id,
        "Subscribed: ukraine",
    )
    events.close()


async def test_group_command_with_bot_name(
    tg: TelegramSandbox, account: Bot, seen: asyncio.Queue[tuple[str, Update]]
) -> None:
    owner = tg.control.create_user("Olga")
    group = tg.control.create_chat("supergroup", "Readers", creator=owner.id)
    tg.control.add_bot(group.id, account, admin=False)
    tg.control.send_message(owner.id, "chatter the bot must not see", chat_id=group.id)
    tg.control.send_message(owner.id, "/subscribe@other_bot climate", chat_id=group.id)
    tg.control.send_message(owner.id, "/subscribe@news_bot climate", chat_id=group.id)
    kind, update = await next_seen(seen)
    assert kind == "subscribe"
    assert update.effective_chat is not None and update.effective_chat.id == group.id
    assert update.message is not None and update.message.text == "/subscribe@news_bot climate"
    assert seen.empty()  # privacy mode hid the chatter and the other bot's command


async def test_channel_post(
    tg: TelegramSandbox, account: Bot, seen: asyncio.Queue[tuple[str, Update]]
) -> None:
    editor = tg.control.create_user("Eve")
    channel = tg.control.create_chat("channel", "Live", creator=editor.id)
    tg.control.add_bot(channel.id, account)
    tg.control.send_message(editor.id, "/post ukraine Headline", chat_id=channel.id)
    kind, update = await next_seen(seen)
    assert kind == "channel_post"
    post = update.channel_post
    assert post is not None and post.from_user is None
    assert post.sender_chat is not None and post.sender_chat.id == channel.id
    assert post.entities[0].type == "bot_command"


async def test_forum_topic_message(
    tg: TelegramSandbox, account: Bot, seen: asyncio.Queue[tuple[str, Update]]
) -> None:
    owner = tg.control.create_user("Olga")
    forum = tg.control.create_chat("supergroup", "Forum", creator=owner.id, is_forum=True)
    topic = tg.control.create_topic(forum.id, "Ukraine")
    tg.control.add_bot(forum.id, account)
    tg.control.send_message(owner.id, "In the topic", chat_id=forum.id, thread_id=topic.thread_id)
    kind, update = await next_seen(seen)
    assert kind == "text"
    msg = update.message
    assert msg is not None
    assert (msg.message_thread_id, msg.is_topic_message) == (topic.thread_id, True)
    reply = await msg.reply_text("Noted")  # PTB keeps the thread of the message replied to
    assert reply.message_thread_id == topic.thread_id
    assert tg.control.transcript(forum.id)[-1].thread_id == topic.thread_id
