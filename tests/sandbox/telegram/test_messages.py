"""Sending, editing, deleting and pinning with the real python-telegram-bot Bot."""

from __future__ import annotations

import pytest
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox
from telegram import Bot as PtbBot
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
from telegram.constants import ParseMode
from telegram.error import BadRequest


async def test_get_me_reports_the_bot(bot: PtbBot, account: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (account.id, "news_bot", True)
    assert me.can_read_all_group_messages is False


async def test_send_html_message_is_stored_as_displayed(
    tg: TelegramSandbox, bot: PtbBot, reader: User
) -> None:
    sent = await bot.send_message(
        reader.id,
        '<b>Kyiv</b> &amp; <a href="https://example.org/live">Read</a>',
        parse_mode=ParseMode.HTML,
        disable_notification=True,
    )
    assert sent.text == "Kyiv & Read"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 4),
        ("text_link", 7, 4),
    ]
    assert sent.entities[1].url == "https://example.org/live"
    shown = tg.control.transcript(reader.id)[-1]
    assert (shown.text, shown.disable_notification, shown.sender) == (
        "Kyiv & Read",
        True,
        "@news_bot",
    )


async def test_parse_mode_is_case_insensitive_and_validated(bot: PtbBot, reader: User) -> None:
    sent = await bot.send_message(reader.id, "<i>x</i>", parse_mode="hTmL")
    assert sent.entities[0].type == "italic"
    with pytest.raises(BadRequest, match=r"^Unsupported parse_mode$"):
        await bot.send_message(reader.id, "x", parse_mode="rst")


async def test_edit_keeps_history_and_refuses_no_change(
    tg: TelegramSandbox, bot: PtbBot, reader: User
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Open", url="https://example.org")]])
    sent = await bot.send_message(reader.id, "First", reply_markup=keyboard)
    assert sent.reply_markup == keyboard
    edited = await bot.edit_message_text(
        "Second", chat_id=reader.id, message_id=sent.message_id, reply_markup=keyboard
    )
    assert edited.text == "Second" and edited.edit_date is not None
    with pytest.raises(BadRequest) as err:
        await bot.edit_message_text(
            "Second", chat_id=reader.id, message_id=sent.message_id, reply_markup=keyboard
        )
    assert err.value.message == (
        "Message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )
    shown = tg.control.transcript(reader.id)[-1]
    assert shown.text == "Second"
    assert [v.text for v in shown.history] == ["First"]


async def test_edit_and_delete_unknown_messages(bot: PtbBot, reader: User) -> None:
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", chat_id=reader.id, message_id=999)
    with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
        await bot.delete_message(reader.id, 999)


async def test_delete_marks_or_hides(tg: TelegramSandbox, bot: PtbBot, reader: User) -> None:
    sent = await bot.send_message(reader.id, "Withdrawn entry")
    assert await bot.delete_message(reader.id, sent.message_id) is True
    assert all(m.message_id != sent.message_id for m in tg.control.transcript(reader.id))
    marked = tg.control.transcript(reader.id, include_deleted=True)[-1]
    assert (marked.message_id, marked.deleted, marked.text) == (
        sent.message_id,
        True,
        "Withdrawn entry",
    )
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("again", chat_id=reader.id, message_id=sent.message_id)


async def test_pin_and_unpin(tg: TelegramSandbox, bot: PtbBot, reader: User) -> None:
    first = await bot.send_message(reader.id, "one")
    second = await bot.send_message(reader.id, "two")
    assert await bot.pin_chat_message(reader.id, first.message_id)
    assert await bot.pin_chat_message(reader.id, second.message_id)
    assert await bot.unpin_chat_message(reader.id)  # the most recent pin
    shown = tg.control.transcript(reader.id)
    pinned = {m.message_id: m.pinned for m in shown}
    assert pinned[first.message_id] is True and pinned[second.message_id] is False
    notices = [m.service for m in shown if m.service]
    assert notices == [
        {"pinned_message_id": first.message_id},
        {"pinned_message_id": second.message_id},
    ]
    with pytest.raises(BadRequest, match=r"^Message to pin not found$"):
        await bot.pin_chat_message(reader.id, 999)


async def test_photo_upload_url_and_file_id(tg: TelegramSandbox, bot: PtbBot, reader: User) -> None:
    uploaded = await bot.send_photo(
        reader.id, b"\x89PNG-bytes", caption="<b>Kherson</b> (Photo: AP)", parse_mode="HTML"
    )
    file_id = uploaded.photo[-1].file_id
    assert tg.engine.world.files[file_id] == b"\x89PNG-bytes"
    assert uploaded.caption == "Kherson (Photo: AP)"
    assert uploaded.caption_entities[0].type == "bold"
    again = await bot.send_photo(reader.id, file_id)
    assert again.photo[-1].file_id == file_id and again.caption is None
    by_url = await bot.send_photo(reader.id, "https://example.org/p.jpg", caption="c")
    assert by_url.photo[-1].file_id not in (file_id, "https://example.org/p.jpg")
    with pytest.raises(BadRequest, match=r"^Wrong file identifier/http url specified$"):
        await bot.send_photo(reader.id, "not-a-file-id")
    edited = await bot.edit_message_caption(
        chat_id=reader.id, message_id=uploaded.message_id, caption="New caption"
    )
    assert edited.caption == "New caption"
    shown = tg.control.transcript(reader.id)[-3]
    assert (shown.photo, shown.caption) == (file_id, "New caption")
    with pytest.raises(BadRequest, match=r"^There is no text in the message to edit$"):
        await bot.edit_message_text("x", chat_id=reader.id, message_id=uploaded.message_id)


async def test_media_group(tg: TelegramSandbox, bot: PtbBot, reader: User) -> None:
    album = await bot.send_media_group(
        reader.id,
        [
            InputMediaPhoto(b"one", caption="<i>Scene</i>", parse_mode="HTML"),
            InputMediaPhoto("https://example.org/2.jpg"),
        ],
    )
    assert len(album) == 2
    assert album[0].media_group_id == album[1].media_group_id is not None
    assert album[0].caption == "Scene" and album[1].caption is None
    shown = tg.control.transcript(reader.id)[-2:]
    assert [m.media_group_id for m in shown] == [album[0].media_group_id] * 2
    with pytest.raises(BadRequest, match="2-10 items"):
        await bot.send_media_group(reader.id, [InputMediaPhoto(b"solo")])


async def test_text_limits_in_code_points(bot: PtbBot, reader: User) -> None:
    ok = await bot.send_message(reader.id, "😀" * 4096)  # 8192 UTF-16 units, 4096 code points
    assert len(ok.text) == 4096
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(reader.id, "x" * 4097)
    with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
        await bot.send_photo(reader.id, b"p", caption="x" * 1025)


async def test_cant_parse_entities_exact_message(bot: PtbBot, reader: User) -> None:
    with pytest.raises(BadRequest) as err:
        await bot.send_message(reader.id, "<p>Breaking</p>", parse_mode="HTML")
    # PTB strips "Bad Request: " and capitalizes the rest.
    assert err.value.message == 'Can\'t parse entities: unsupported start tag "p" at byte offset 0'


async def test_chat_not_found_and_username(tg: TelegramSandbox, bot: PtbBot, account: Bot) -> None:
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(-123456, "x")
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message("@nobody_here", "x")
    channel = tg.control.create_chat("channel", "Live", username="live_news")
    tg.control.add_bot(channel.id, account)
    post = await bot.send_message("@live_news", "Hello channel")
    assert post.chat.id == channel.id and post.sender_chat.id == channel.id
    assert post.from_user is None


async def test_commands_round_trip(bot: PtbBot) -> None:
    await bot.set_my_commands([("subscribe", "Follow a topic"), ("topics", "List topics")])
    commands = await bot.get_my_commands()
    assert [(c.command, c.description) for c in commands] == [
        ("subscribe", "Follow a topic"),
        ("topics", "List topics"),
    ]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Sub-Scribe", "bad name")])


async def test_chat_info_and_members(tg: TelegramSandbox, bot: PtbBot, account: Bot) -> None:
    owner = tg.control.create_user("Olga")
    group = tg.control.create_chat("supergroup", "Readers", creator=owner.id)
    tg.control.add_bot(group.id, account)
    other = tg.control.create_bot("other_bot")
    tg.control.add_bot(group.id, other)
    info = await bot.get_chat(group.id)
    assert (info.id, info.type, info.title) == (group.id, "supergroup", "Readers")
    me = await bot.get_chat_member(group.id, account.id)
    assert me.status == "administrator" and me.can_delete_messages is True
    assert (await bot.get_chat_member(group.id, owner.id)).status == "creator"
    admins = await bot.get_chat_administrators(group.id)
    assert sorted(a.user.id for a in admins) == sorted([owner.id, account.id])
