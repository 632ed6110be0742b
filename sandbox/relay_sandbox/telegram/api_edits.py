"""Bot API methods that edit a bot's messages: text, caption and media.

editMessageMedia follows Bot API 10.1 (shared/specs/telegram): it replaces the photo (or other
media) of a message, or turns a text message into a media message (the text is gone, the new
caption shows); the caption is whatever the InputMedia carries (none: no caption). The sandbox
emulates photos only: another InputMedia type is refused, an unknown one as the server refuses
JSON it cannot read. The same media with the same caption is "message is not modified".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relay_sandbox.telegram.api_messages import photo_input
from relay_sandbox.telegram.core import Engine
from relay_sandbox.telegram.errors import NOT_MODIFIED, ApiError, bad_request
from relay_sandbox.telegram.formatting import formatted
from relay_sandbox.telegram.records import Bot, Chat, Json, Message, Photo
from relay_sandbox.telegram.render import message_to_api
from relay_sandbox.telegram.request import ApiCall

#: The InputMedia types of Bot API 10.1.
MEDIA_TYPES = frozenset({"animation", "audio", "document", "live_photo", "photo", "video"})


def _editable(engine: Engine, bot: Bot, p: dict[str, Any]) -> tuple[Chat, Message]:
    if p.get("inline_message_id") is not None:
        raise bad_request("the sandbox does not emulate inline messages")
    if p.get("chat_id") is None:
        raise bad_request("chat_id is empty")
    if p.get("message_id") is None:
        raise bad_request("message identifier is not specified")
    chat = engine.world.resolve(p["chat_id"])
    engine.world.check_access(bot, chat, write=False)
    msg = engine.world.find(engine.world.box_key(chat, bot.id), p["message_id"])
    if msg is None:
        raise bad_request("message to edit not found")
    if msg.posted_by != bot.id:
        raise bad_request("message can't be edited")
    return chat, msg


def _apply_edit(engine: Engine, bot: Bot, old: Message, **changes: Any) -> Json:
    new = replace(old, **changes)
    if new == old:
        raise ApiError(400, NOT_MODIFIED)
    if engine.limiter.limits.count_edits:
        chat = engine.world.chats[old.chat_id]
        engine.limiter.check(bot.id, chat.id, chat.type)
    new = replace(new, history=(*old.history, old.version()), edit_date=engine.date())
    engine.world.store(new)
    engine.emit("message_edited", new)
    return message_to_api(engine.world, new)


def edit_message_text(engine: Engine, bot: Bot, call: ApiCall) -> Json:
    """editMessageText (chat_id + message_id)."""
    p = call.params
    _, msg = _editable(engine, bot, p)
    if msg.text is None:
        raise bad_request("there is no text in the message to edit")
    if p.get("text") is None:
        raise bad_request("message text is empty")
    text, entities = formatted(p["text"], p.get("parse_mode"), p.get("entities"), caption=False)
    preview = p.get("link_preview_options", msg.link_preview_options)
    return _apply_edit(
        engine,
        bot,
        msg,
        text=text,
        entities=entities,
        link_preview_options=preview,
        reply_markup=p.get("reply_markup"),  # an edit without a keyboard removes it
    )


def edit_message_caption(engine: Engine, bot: Bot, call: ApiCall) -> Json:
    """editMessageCaption (chat_id + message_id)."""
    p = call.params
    _, msg = _editable(engine, bot, p)
    if msg.photo is None:
        raise bad_request("there is no caption in the message to edit")
    caption, entities = formatted(
        p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True
    )
    above = p.get("show_caption_above_media", msg.show_caption_above_media)
    return _apply_edit(
        engine,
        bot,
        msg,
        caption=caption or None,
        caption_entities=entities,
        show_caption_above_media=bool(above),
        reply_markup=p.get("reply_markup"),
    )


def edit_message_media(engine: Engine, bot: Bot, call: ApiCall) -> Json:
    """editMessageMedia (chat_id + message_id): a new photo and its caption, in place."""
    p = call.params
    _, msg = _editable(engine, bot, p)
    media = p["media"]
    kind = media.get("type")
    if kind not in MEDIA_TYPES:
        raise bad_request("can't parse InputMedia JSON object")
    if msg.service:
        raise bad_request("message can't be edited")
    if msg.text is None and msg.photo is None:
        raise bad_request("there is no media in the message to edit")
    if kind != "photo":
        raise bad_request("the sandbox emulates photo media only")
    caption, entities = formatted(
        media.get("caption"), media.get("parse_mode"), media.get("caption_entities"), caption=True
    )
    photo = _same_or_new(engine, msg.photo, media.get("media"), call.files)
    return _apply_edit(
        engine,
        bot,
        msg,
        text=None,
        entities=(),
        link_preview_options=None,
        photo=photo,
        caption=caption or None,
        caption_entities=entities,
        show_caption_above_media=bool(media.get("show_caption_above_media")),
        has_spoiler=bool(media.get("has_spoiler")),
        reply_markup=p.get("reply_markup"),
    )


def _same_or_new(engine: Engine, old: Photo | None, value: Any, files: dict[str, Any]) -> Photo:
    """The message's own photo when `value` names it again (its file_id or its URL)."""
    if old is not None and isinstance(value, str) and value in (old.file_id, old.url):
        return old
    return photo_input(engine, value, files)
