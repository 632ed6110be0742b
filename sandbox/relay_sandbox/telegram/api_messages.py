"""Bot API methods that send, delete and pin messages (edits: `api_edits`)."""

from __future__ import annotations

import re
from typing import Any

from relay_sandbox.telegram.core import Engine
from relay_sandbox.telegram.errors import bad_request
from relay_sandbox.telegram.formatting import formatted
from relay_sandbox.telegram.records import Bot, Chat, Json, Member, Message, Photo
from relay_sandbox.telegram.render import message_to_api
from relay_sandbox.telegram.request import ApiCall, UploadedFile
from relay_sandbox.telegram.state import BoxKey

_ALBUM_KINDS = {"photo", "video", "document", "audio"}
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{20,}")


def _target(engine: Engine, bot: Bot, p: dict[str, Any]) -> tuple[Chat, BoxKey, Member | None]:
    chat = engine.world.resolve(p["chat_id"])
    member = engine.world.check_access(bot, chat, write=True)
    return chat, engine.world.box_key(chat, bot.id), member


def _thread(engine: Engine, chat: Chat, p: dict[str, Any]) -> tuple[int | None, bool]:
    thread_id = p.get("message_thread_id")
    if thread_id is None or not chat.is_forum:
        return None, False
    if thread_id not in engine.world.topics.get(chat.id, {}):
        raise bad_request("message thread not found")
    return thread_id, True


def _reply_to(engine: Engine, key: BoxKey, p: dict[str, Any]) -> int | None:
    reply = p.get("reply_parameters")
    if not reply or "message_id" not in reply:
        return None
    mid = int(reply["message_id"])
    if engine.world.find(key, mid) is None:
        if reply.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    return mid


def _new_message(
    engine: Engine, bot: Bot, chat: Chat, key: BoxKey, p: dict[str, Any], **content: Any
) -> Message:
    thread_id, in_topic = _thread(engine, chat, p)
    channel = chat.type == "channel"
    return Message(
        chat_id=chat.id,
        message_id=engine.world.next_message_id(key),
        date=engine.date(),
        sender_id=None if channel else bot.id,
        sender_chat_id=chat.id if channel else None,
        thread_id=thread_id,
        is_topic_message=in_topic,
        reply_to=_reply_to(engine, key, p),
        disable_notification=bool(p.get("disable_notification")),
        protect_content=bool(p.get("protect_content")),
        dialog_bot=bot.id if chat.type == "private" else None,
        posted_by=bot.id,
        **content,
    )


def _publish(engine: Engine, msg: Message) -> Json:
    engine.world.store(msg)
    engine.emit("message_sent", msg)
    return message_to_api(engine.world, msg)


def send_message(engine: Engine, bot: Bot, call: ApiCall) -> Json:
    """sendMessage."""
    p = call.params
    chat, key, _ = _target(engine, bot, p)
    text, entities = formatted(p["text"], p.get("parse_mode"), p.get("entities"), caption=False)
    msg = _new_message(
        engine,
        bot,
        chat,
        key,
        p,
        text=text,
        entities=entities,
        reply_markup=p.get("reply_markup"),
        link_preview_options=p.get("link_preview_options"),
    )
    engine.limiter.check(bot.id, chat.id, chat.type, paid=bool(p.get("allow_paid_broadcast")))
    return _publish(engine, msg)


def photo_input(engine: Engine, value: Any, files: dict[str, UploadedFile]) -> Photo:
    """The photo an InputFile/String parameter names: an upload, an HTTP URL or a file_id."""
    world = engine.world
    if isinstance(value, str) and value.startswith("attach://"):
        value = files.get(value.removeprefix("attach://"))
        if value is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
    if isinstance(value, UploadedFile):
        file_id, unique = world.new_file_id(value.data)
        return Photo(file_id, unique, file_size=len(value.data))
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        file_id, unique = world.new_file_id(b"")
        world.file_urls[file_id] = value
        return Photo(file_id, unique, url=value)
    if isinstance(value, str) and (value in world.files or _FILE_ID.fullmatch(value)):
        # A file_id the sandbox never issued is taken as is: it may come from real Telegram.
        data = world.files.get(value, b"")
        unique = "AQAD" + value[-16:]
        return Photo(value, unique, file_size=len(data) or None, url=world.file_urls.get(value))
    raise bad_request("wrong file identifier/HTTP URL specified")


def send_photo(engine: Engine, bot: Bot, call: ApiCall) -> Json:
    """sendPhoto: an upload, an HTTP URL or a known file_id."""
    p = call.params
    chat, key, _ = _target(engine, bot, p)
    caption, entities = formatted(
        p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True
    )
    msg = _new_message(
        engine,
        bot,
        chat,
        key,
        p,
        photo=photo_input(engine, p["photo"], call.files),
        caption=caption or None,
        caption_entities=entities,
        reply_markup=p.get("reply_markup"),
        show_caption_above_media=bool(p.get("show_caption_above_media")),
        has_spoiler=bool(p.get("has_spoiler")),
    )
    engine.limiter.check(bot.id, chat.id, chat.type, paid=bool(p.get("allow_paid_broadcast")))
    return _publish(engine, msg)


def send_media_group(engine: Engine, bot: Bot, call: ApiCall) -> list[Json]:
    """sendMediaGroup: 2-10 photos; the flood limits count every item."""
    p = call.params
    chat, key, _ = _target(engine, bot, p)
    media = p["media"]
    if not 2 <= len(media) <= 10:
        raise bad_request("media group must include 2-10 items")
    kinds = {item.get("type") for item in media}
    if not kinds <= _ALBUM_KINDS:
        raise bad_request("can't parse InputMedia JSON object")
    if kinds - {"photo", "video"} and len(kinds) > 1:
        raise bad_request("can't use the media of the specified type in the album")
    if kinds != {"photo"}:
        raise bad_request("the sandbox emulates photo albums only")
    items = []
    for item in media:
        caption, entities = formatted(
            item.get("caption"), item.get("parse_mode"), item.get("caption_entities"), caption=True
        )
        items.append((photo_input(engine, item.get("media"), call.files), caption, entities, item))
    paid = bool(p.get("allow_paid_broadcast"))
    engine.limiter.check(bot.id, chat.id, chat.type, paid=paid, count=len(items))
    group = engine.media_group_id()
    out = []
    for photo, caption, entities, item in items:
        msg = _new_message(
            engine,
            bot,
            chat,
            key,
            p,
            photo=photo,
            caption=caption or None,
            caption_entities=entities,
            media_group_id=group,
            has_spoiler=bool(item.get("has_spoiler")),
        )
        out.append(_publish(engine, msg))
    return out


def delete_message(engine: Engine, bot: Bot, call: ApiCall) -> bool:
    """deleteMessage: own messages; others with can_delete_messages (any in private chats)."""
    p = call.params
    chat = engine.world.resolve(p["chat_id"])
    member = engine.world.check_access(bot, chat, write=False)
    msg = engine.world.find(engine.world.box_key(chat, bot.id), p["message_id"])
    if msg is None:
        raise bad_request("message to delete not found")
    own = msg.posted_by == bot.id
    allowed = (
        chat.type == "private" or own or (member is not None and member.can("can_delete_messages"))
    )
    if not allowed:
        raise bad_request("message can't be deleted")
    gone = engine.world.mark(msg, deleted=True, pinned=False)
    engine.emit("message_deleted", gone)
    return True


def _pin_rights(chat: Chat, member: Member | None) -> None:
    if chat.type == "private" or member is None:
        return
    right = {"channel": "can_edit_messages", "supergroup": "can_pin_messages"}.get(chat.type)
    ok = member.status in ("creator", "administrator") if right is None else member.can(right)
    if not ok:
        raise bad_request("not enough rights to manage pinned messages in the chat")


def pin_chat_message(engine: Engine, bot: Bot, call: ApiCall) -> bool:
    """pinChatMessage."""
    p = call.params
    chat = engine.world.resolve(p["chat_id"])
    _pin_rights(chat, engine.world.check_access(bot, chat, write=False))
    msg = engine.world.find(engine.world.box_key(chat, bot.id), p["message_id"])
    if msg is None:
        raise bad_request("message to pin not found")
    if not msg.pinned:
        engine.emit("message_pinned", engine.world.mark(msg, pinned=True))
        _pin_notice(engine, bot, chat, msg)
    return True


def _pin_notice(engine: Engine, bot: Bot, chat: Chat, pinned: Message) -> None:
    # Telegram shows "… pinned «…»" as a service message, which other bots receive.
    channel = chat.type == "channel"
    key = engine.world.box_key(chat, bot.id)
    notice = Message(
        chat_id=chat.id,
        message_id=engine.world.next_message_id(key),
        date=engine.date(),
        sender_id=None if channel else bot.id,
        sender_chat_id=chat.id if channel else None,
        thread_id=pinned.thread_id,
        is_topic_message=pinned.is_topic_message,
        service={"pinned_message_id": pinned.message_id},
        dialog_bot=bot.id if chat.type == "private" else None,
        posted_by=bot.id,
    )
    engine.world.store(notice)
    engine.emit("message_sent", notice)
    engine.deliver(notice)


def unpin_chat_message(engine: Engine, bot: Bot, call: ApiCall) -> bool:
    """unpinChatMessage: the given message, or the most recently pinned one."""
    p = call.params
    chat = engine.world.resolve(p["chat_id"])
    _pin_rights(chat, engine.world.check_access(bot, chat, write=False))
    key = engine.world.box_key(chat, bot.id)
    if p.get("message_id") is None:
        pinned = [m for m in engine.world.messages(key) if m.pinned and not m.deleted]
        if not pinned:
            return True
        msg: Message | None = pinned[-1]
    else:
        msg = engine.world.find(key, p["message_id"])
    if msg is None:
        raise bad_request("message to unpin not found")
    if msg.pinned:
        engine.emit("message_unpinned", engine.world.mark(msg, pinned=False))
    return True
