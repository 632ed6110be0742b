"""What people do in the emulated Telegram: write, edit, press buttons (each an Update)."""

from __future__ import annotations

import re
from dataclasses import replace

from relay_sandbox.telegram.core import Engine
from relay_sandbox.telegram.records import Json, Message, Photo, Topic, User
from relay_sandbox.telegram.render import message_to_api

#: The placeholder ``from`` of a message an administrator posts anonymously, "for backward
#: compatibility" (Bot API, Message.from); ``sender_chat`` is the group itself.
GROUP_ANONYMOUS_BOT = User(1087968824, "Group", is_bot=True, username="GroupAnonymousBot")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> tuple[Json, ...]:
    """``bot_command`` entities for every ``/command`` (or ``/command@bot``) at a word start."""
    out = []
    for match in _COMMAND.finditer(text):
        start, end = match.start(), match.end()
        if start and not text[start - 1].isspace():
            continue
        if end < len(text) and not text[end].isspace():
            continue
        out.append(
            {"type": "bot_command", "offset": _utf16(text[:start]), "length": _utf16(match[0])}
        )
    return tuple(out)


def send(
    engine: Engine,
    user_id: int,
    chat_id: int,
    text: str | None,
    *,
    dialog_bot: int | None = None,
    thread_id: int | None = None,
    reply_to: int | None = None,
    photo: bytes | None = None,
    caption: str | None = None,
    entities: tuple[Json, ...] | None = None,
    anonymous: bool = False,
) -> Message:
    """Store a user's message (private chats: ``dialog_bot`` set) and deliver it as an Update.

    With ``anonymous`` a supergroup administrator posts as the group: ``sender_chat`` is the
    group and ``from`` is GroupAnonymousBot.
    """
    world = engine.world
    user = world.user(user_id)
    if user.deactivated:
        raise ValueError(f"user {user_id} is deactivated")
    chat = world.chat(chat_id)
    if chat.type == "private":
        if dialog_bot is None or chat_id != user_id:
            raise ValueError("a private message goes from the user to a bot")
        world.dialogs.add((dialog_bot, user_id))
        world.blocked.discard((dialog_bot, user_id))  # writing to a bot unblocks it
    else:
        dialog_bot = None
        member = world.member(chat.id, user_id)
        if chat.deleted or chat.migrated_to is not None:
            raise ValueError(f"chat {chat.id} can no longer be written to")
        if member is None or member.status in ("left", "kicked"):
            raise ValueError(f"user {user_id} is not a member of chat {chat.id}")
        if chat.type == "channel" and member.status not in ("creator", "administrator"):
            raise ValueError("only channel admins post in a channel")
    if anonymous:
        member = world.member(chat.id, user_id) if chat.type == "supergroup" else None
        if member is None or member.status not in ("creator", "administrator"):
            raise ValueError("only a supergroup's administrators post anonymously")
        world.users.setdefault(GROUP_ANONYMOUS_BOT.id, GROUP_ANONYMOUS_BOT)
    in_topic = chat.is_forum and thread_id is not None
    if in_topic and thread_id not in world.topics.get(chat.id, {}):
        raise ValueError(f"no topic {thread_id} in chat {chat.id}")
    channel = chat.type == "channel"
    msg = Message(
        chat_id=chat.id,
        message_id=world.next_message_id(world.box_key(chat, dialog_bot)),
        date=engine.date(),
        sender_id=None if channel else GROUP_ANONYMOUS_BOT.id if anonymous else user_id,
        sender_chat_id=chat.id if channel or anonymous else None,
        thread_id=thread_id if in_topic else None,
        is_topic_message=in_topic,
        reply_to=reply_to,
        dialog_bot=dialog_bot,
    )
    if photo is not None:
        file_id, unique = world.new_file_id(photo)
        msg = replace(
            msg,
            photo=Photo(file_id, unique, file_size=len(photo)),
            caption=caption,
            caption_entities=(entities or ()) if caption else (),
        )
    elif text:
        msg = replace(
            msg, text=text, entities=command_entities(text) if entities is None else entities
        )
    else:
        raise ValueError("a message needs text or a photo")
    world.store(msg)
    engine.emit("message_sent", msg)
    engine.deliver(msg)
    return msg


def edit(
    engine: Engine,
    user_id: int,
    chat_id: int,
    message_id: int,
    text: str,
    *,
    dialog_bot: int | None = None,
) -> Message:
    """A user edits the text (or caption) of their own message."""
    world = engine.world
    chat = world.chat(chat_id)
    old = world.find(world.box_key(chat, dialog_bot), message_id)
    if old is None or old.posted_by is not None:
        raise ValueError(f"no user message {message_id} in chat {chat_id}")
    # Channel posts show no author: any admin of the channel may edit them.
    member = world.member(chat.id, user_id)
    may = member is not None and member.status in ("creator", "administrator")
    if not (old.sender_id == user_id or (old.sender_chat_id is not None and may)):
        raise ValueError(f"message {message_id} is not user {user_id}'s")
    if old.photo is not None:
        new = replace(old, caption=text, caption_entities=())
    else:
        new = replace(old, text=text, entities=command_entities(text))
    new = replace(new, history=(*old.history, old.version()), edit_date=engine.date())
    world.store(new)
    engine.emit("message_edited", new)
    engine.deliver(new, edited=True)
    return new


def topic_created(engine: Engine, chat_id: int, topic: Topic, creator: int | None) -> Message:
    """The service message that opens a forum topic."""
    world = engine.world
    if creator is None:
        members = world.members.get(chat_id, {}).values()
        creator = next((m.user_id for m in members if m.status == "creator"), None)
    msg = Message(
        chat_id=chat_id,
        message_id=topic.thread_id,
        date=engine.date(),
        sender_id=creator,
        thread_id=topic.thread_id,
        is_topic_message=True,
        service={"forum_topic_created": {"name": topic.name, "icon_color": 7322096}},
    )
    world.store(msg)
    engine.emit("message_sent", msg)
    engine.deliver(msg)
    return msg


def press_button(
    engine: Engine,
    user_id: int,
    chat_id: int,
    message_id: int,
    data: str,
    *,
    dialog_bot: int | None = None,
) -> str:
    """A callback_query for the bot that sent the message; returns the query id."""
    world = engine.world
    chat = world.chat(chat_id)
    msg = world.find(world.box_key(chat, dialog_bot), message_id)
    if msg is None or msg.posted_by is None:
        raise ValueError(f"no bot message {message_id} in chat {chat_id}")
    query_id = f"{next(engine.query_ids)}{msg.posted_by % 10**6:06d}"
    engine.callback_queries[query_id] = msg.posted_by
    engine.queue(msg.posted_by).push(
        "callback_query",
        {
            "id": query_id,
            "from": world.user(user_id).to_api(),
            "message": message_to_api(world, msg),
            "chat_instance": str(abs(chat_id)),
            "data": data,
        },
    )
    return query_id
