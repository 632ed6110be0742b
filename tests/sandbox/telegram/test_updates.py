"""getUpdates: offsets, limits, long polling that wakes at once, 409 conflicts, allowed_updates."""

from __future__ import annotations

import asyncio

import pytest
from relay_sandbox.telegram.records import Bot
from relay_sandbox.telegram.server import TelegramSandbox, ptb_bot
from relay_sandbox.telegram.updates import UpdateQueue
from telegram import Bot as PtbBot
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict

WAIT = 10.0  # a guard against hanging only


def say(tg: TelegramSandbox, account: Bot, *texts: str) -> int:
    user = tg.control.create_user("Ann")
    for text in texts:
        tg.control.send_message(user.id, text, bot=account)
    return user.id


async def until_polling(tg: TelegramSandbox, account: Bot) -> None:
    """Wait until the bot's long poll has reached the server."""
    async with asyncio.timeout(WAIT):
        while not tg.engine.queue(account.id).polling:  # noqa: ASYNC110 - a test-side probe
            await asyncio.sleep(0.01)


async def test_offset_confirms_and_limit_caps(
    tg: TelegramSandbox, bot: PtbBot, account: Bot
) -> None:
    say(tg, account, "one", "two", "three")
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    again = await bot.get_updates()  # nothing confirmed yet
    assert len(again) == 3
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert len(tg.control.pending_updates(account)) == 1
    assert await bot.get_updates(offset=rest[-1].update_id + 1) == ()


async def test_negative_offset_keeps_the_last(
    tg: TelegramSandbox, bot: PtbBot, account: Bot
) -> None:
    say(tg, account, "a", "b", "c")
    last = await bot.get_updates(offset=-1)
    assert [u.message.text for u in last if u.message] == ["c"]
    assert len(await bot.get_updates()) == 1


async def test_long_poll_wakes_when_an_update_arrives(
    tg: TelegramSandbox, bot: PtbBot, account: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
    await until_polling(tg, account)
    say(tg, account, "wake up")
    updates = await asyncio.wait_for(poll, WAIT)
    assert [u.message.text for u in updates if u.message] == ["wake up"]


async def test_second_poll_terminates_the_first(
    tg: TelegramSandbox, bot: PtbBot, account: Bot
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
    await until_polling(tg, account)
    async with ptb_bot(tg, account.token) as other:
        second = asyncio.create_task(other.get_updates(timeout=0))
        with pytest.raises(Conflict) as err:
            await asyncio.wait_for(first, WAIT)
        assert err.value.message == (
            "Conflict: terminated by other getUpdates request; make sure that only one bot "
            "instance is running"
        )
        assert await second == ()


async def test_allowed_updates_persist(tg: TelegramSandbox, bot: PtbBot, account: Bot) -> None:
    owner = tg.control.create_user("Olga")
    group = tg.control.create_chat("supergroup", "G", creator=owner.id)
    await bot.get_updates(allowed_updates=["message"])
    tg.control.add_bot(group.id, account)  # would be a my_chat_member update
    say(tg, account, "kept")
    updates = await bot.get_updates()  # no allowed_updates: the earlier choice holds
    assert [u.message.text for u in updates if u.message] == ["kept"]
    assert all(u.my_chat_member is None for u in updates)
    await bot.get_updates(offset=updates[-1].update_id + 1, allowed_updates=[])
    tg.control.remove_bot(group.id, account)
    (update,) = await bot.get_updates()
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "left"


async def test_delete_webhook_drops_pending(tg: TelegramSandbox, bot: PtbBot, account: Bot) -> None:
    say(tg, account, "old")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_closing_releases_a_long_poll() -> None:
    queue = UpdateQueue()
    poll = asyncio.create_task(queue.poll(timeout=30))
    await asyncio.sleep(0)
    queue.close()
    assert await asyncio.wait_for(poll, WAIT) == []


async def test_callback_query_answered_once(tg: TelegramSandbox, bot: PtbBot, account: Bot) -> None:
    user_id = say(tg, account, "/start")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Follow", callback_data="sub:ukraine")]])
    sent = await bot.send_message(user_id, "Topics", reply_markup=keyboard)
    query_id = tg.control.press_button(
        user_id, user_id, sent.message_id, "sub:ukraine", bot=account
    )
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None and (query.id, query.data) == (query_id, "sub:ukraine")
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="Subscribed")
    assert tg.control.callback_answer(query_id) == {
        "callback_query_id": query_id,
        "text": "Subscribed",
    }
    with pytest.raises(BadRequest, match=r"^Query is too old and response timeout expired"):
        await bot.answer_callback_query(query.id)


async def test_user_edits_arrive_as_edited_updates(
    tg: TelegramSandbox, bot: PtbBot, account: Bot
) -> None:
    editor = tg.control.create_user("Eve")
    channel = tg.control.create_chat("channel", "Live", creator=editor.id)
    tg.control.add_bot(channel.id, account)
    post = tg.control.send_message(editor.id, "Frist post", chat_id=channel.id)
    tg.control.edit_message(editor.id, channel.id, post.message_id, "First post")
    updates = [u for u in await bot.get_updates() if u.my_chat_member is None]
    assert [u.effective_message.text for u in updates if u.effective_message] == [
        "Frist post",
        "First post",
    ]
    edited = updates[1].edited_channel_post
    assert edited is not None and edited.edit_date is not None
    shown = tg.control.transcript(channel.id)[-1]
    assert (shown.text, [v.text for v in shown.history]) == ("First post", ["Frist post"])


async def test_user_photo_with_caption_and_mentions(
    tg: TelegramSandbox, bot: PtbBot, account: Bot
) -> None:
    owner = tg.control.create_user("Olga", username="olga")
    group = tg.control.create_chat("group", "Desk", creator=owner.id)
    tg.control.add_bot(group.id, account)
    tg.control.send_message(owner.id, chat_id=group.id, photo=b"jpeg", caption="Scene")
    (update,) = [u for u in await bot.get_updates() if u.message]
    assert update.message is not None
    assert update.message.caption == "Scene" and update.message.photo[-1].file_size == 4
    sent = await bot.send_message(
        group.id, f'Thanks, <a href="tg://user?id={owner.id}">Olga</a>', parse_mode="HTML"
    )
    assert sent.entities[0].type == "text_mention"
    assert sent.entities[0].user is not None and sent.entities[0].user.username == "olga"
    shown = tg.control.transcript(group.id)[-1]
    assert shown.html == f'Thanks, <a href="tg://user?id={owner.id}">Olga</a>'


async def test_service_messages_reach_other_bots(
    tg: TelegramSandbox, bot: PtbBot, account: Bot
) -> None:
    owner = tg.control.create_user("Olga")
    forum = tg.control.create_chat("supergroup", "Forum", creator=owner.id, is_forum=True)
    watcher_account = tg.control.create_bot("watch_bot")
    tg.control.add_bot(forum.id, account)
    tg.control.add_bot(forum.id, watcher_account)
    topic = tg.control.create_topic(forum.id, "Ukraine")
    sent = await bot.send_message(forum.id, "Pin me", message_thread_id=topic.thread_id)
    await bot.pin_chat_message(forum.id, sent.message_id)
    async with ptb_bot(tg, watcher_account.token) as watcher:
        messages = [u.message for u in await watcher.get_updates() if u.message]
    created, notice = messages  # bots never receive each other's own messages
    assert created.forum_topic_created is not None
    assert (created.forum_topic_created.name, created.message_id) == ("Ukraine", topic.thread_id)
    assert notice.pinned_message is not None
    assert notice.pinned_message.message_id == sent.message_id
    assert notice.message_thread_id == topic.thread_id
    assert notice.from_user is not None and notice.from_user.id == account.id
