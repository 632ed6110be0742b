"""editMessageMedia, the 100-entity cap and forum topic ids, through the real python-telegram-bot.

What the sandbox does is what Bot API 10.1 (shared/specs/telegram) and the real server do:
editMessageMedia replaces a message's photo and caption in place, and may turn a text message
into a photo ("or to replace a text or a rich message with a media"); it refuses service
messages, messages of others and media types it cannot read.
"""

from __future__ import annotations

import json

import pytest
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox
from telegram import Bot as PtbBot
from telegram import InputMediaDocument, InputMediaPhoto
from telegram.constants import ParseMode
from telegram.error import BadRequest

from .test_requests import call

OLD = "https://img.example/old.jpg"
NEW = "https://img.example/new.jpg"


async def test_edit_media_replaces_the_photo_and_its_caption(
    tg: TelegramSandbox, bot: PtbBot, reader: User
) -> None:
    sent = await bot.send_photo(reader.id, OLD, caption="<b>Old</b> caption", parse_mode="HTML")
    media = InputMediaPhoto(NEW, caption="<b>New</b> caption", parse_mode=ParseMode.HTML)
    edited = await bot.edit_message_media(media, chat_id=reader.id, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.photo[-1].file_id != sent.photo[-1].file_id
    assert edited.caption == "New caption" and edited.caption_entities[0].type == "bold"
    shown = tg.control.transcript(reader.id)[-1]
    assert (shown.message_id, shown.photo_url, shown.caption) == (
        sent.message_id,
        NEW,
        "New caption",
    )
    assert shown.edit_date is not None
    assert shown.history[-1].photo is not None and shown.history[-1].photo.url == OLD
    assert shown.to_dict()["history"][-1]["photo_url"] == OLD


async def test_edit_media_without_a_caption_clears_it_and_the_same_media_is_not_modified(
    tg: TelegramSandbox, bot: PtbBot, reader: User
) -> None:
    sent = await bot.send_photo(reader.id, OLD, caption="Caption")
    await bot.edit_message_media(InputMediaPhoto(OLD), chat_id=reader.id,
                                 message_id=sent.message_id)  # fmt: skip
    assert tg.control.transcript(reader.id)[-1].caption is None
    with pytest.raises(BadRequest, match=r"^Message is not modified"):
        await bot.edit_message_media(InputMediaPhoto(OLD), chat_id=reader.id,
                                     message_id=sent.message_id)  # fmt: skip
    file_id = sent.photo[-1].file_id
    with pytest.raises(BadRequest, match=r"^Message is not modified"):
        await bot.edit_message_media(InputMediaPhoto(file_id), chat_id=reader.id,
                                     message_id=sent.message_id)  # fmt: skip


async def test_edit_media_turns_a_text_message_into_a_photo_as_bot_api_10_1_says(
    tg: TelegramSandbox, bot: PtbBot, reader: User
) -> None:
    sent = await bot.send_message(reader.id, "Text first")
    media = InputMediaPhoto(NEW, caption="Now a photo")
    await bot.edit_message_media(media, chat_id=reader.id, message_id=sent.message_id)
    shown = tg.control.transcript(reader.id)[-1]
    assert (shown.text, shown.caption, shown.photo_url) == (None, "Now a photo", NEW)
    # It is a photo now: its text cannot be edited any more, its caption can.
    with pytest.raises(BadRequest, match=r"^There is no text in the message to edit$"):
        await bot.edit_message_text("x", chat_id=reader.id, message_id=sent.message_id)


async def test_edit_media_refuses_what_telegram_refuses(
    tg: TelegramSandbox, bot: PtbBot, account: Bot, reader: User
) -> None:
    photo = await bot.send_photo(reader.id, OLD)
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_media(InputMediaPhoto(NEW), chat_id=reader.id, message_id=9999)
    with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
        await bot.edit_message_media(InputMediaPhoto(NEW, caption="x" * 1025), chat_id=reader.id,
                                     message_id=photo.message_id)  # fmt: skip
    with pytest.raises(BadRequest, match=r"^Wrong file identifier/http url specified$"):
        await bot.edit_message_media(InputMediaPhoto("not a file"), chat_id=reader.id,
                                     message_id=photo.message_id)  # fmt: skip
    status, body, _ = await call(tg, account.token, "editMessageMedia", data={
        "chat_id": str(reader.id), "message_id": str(photo.message_id),
        "media": json.dumps({"type": "sticker", "media": NEW}),
    })  # fmt: skip
    assert (status, body["description"]) == (400, "Bad Request: can't parse InputMedia JSON object")
    with pytest.raises(BadRequest, match=r"emulates photo media only"):
        await bot.edit_message_media(InputMediaDocument(NEW), chat_id=reader.id,
                                     message_id=photo.message_id)  # fmt: skip
    # A message someone else wrote, and a service message, cannot be edited.
    theirs = tg.control.transcript(reader.id, bot=account)[0]
    assert theirs.sender_id == reader.id
    with pytest.raises(BadRequest, match=r"^Message can't be edited$"):
        await bot.edit_message_media(InputMediaPhoto(NEW), chat_id=reader.id,
                                     message_id=theirs.message_id)  # fmt: skip
    await bot.pin_chat_message(reader.id, photo.message_id)
    notice = tg.control.transcript(reader.id)[-1]
    assert notice.service.get("pinned_message_id") == photo.message_id
    with pytest.raises(BadRequest, match=r"^Message can't be edited$"):
        await bot.edit_message_media(InputMediaPhoto(NEW), chat_id=reader.id,
                                     message_id=notice.message_id)  # fmt: skip
    shown = [m for m in tg.control.transcript(reader.id) if m.message_id == photo.message_id]
    assert shown[0].photo_url == OLD and shown[0].edit_date is None  # nothing changed


async def test_only_the_first_100_entities_are_kept(
    tg: TelegramSandbox, bot: PtbBot, reader: User
) -> None:
    html = " ".join(f"<b>{i}</b>" for i in range(110))
    sent = await bot.send_message(reader.id, html, parse_mode=ParseMode.HTML)
    assert len(sent.entities) == 100
    assert sent.entities[-1].offset == sent.text.index("99")  # the 100th; 100-109 show plain
    shown = tg.control.transcript(reader.id)[-1]
    assert len(shown.entities) == 100 and shown.html.endswith("<b>99</b> 100 101 102 103 104 "
                                                              "105 106 107 108 109")  # fmt: skip
    photo = await bot.send_photo(reader.id, OLD, caption=html, parse_mode=ParseMode.HTML)
    assert len(photo.caption_entities) == 100


async def test_the_first_forum_topic_is_not_the_general_topic(
    tg: TelegramSandbox, account: Bot, bot: PtbBot
) -> None:
    owner = tg.control.create_user("Olga")
    forum = tg.control.create_chat("supergroup", "Forum", creator=owner.id, is_forum=True)
    tg.control.add_bot(forum.id, account)
    first = tg.control.create_topic(forum.id, "Ukraine")
    second = tg.control.create_topic(forum.id, "Climate")
    assert first.thread_id != 1  # 1 is the General topic's
    assert (first.thread_id, second.thread_id) == (2, 3)
    created = [m for m in tg.control.transcript(forum.id) if "forum_topic_created" in m.service]
    assert [(m.message_id, m.thread_id) for m in created] == [(2, 2), (3, 3)]
    sent = await bot.send_message(forum.id, "In the topic", message_thread_id=first.thread_id)
    assert sent.message_thread_id == first.thread_id and sent.message_id == 4
