"""Stored records as the Bot API shows them, and as a transcript shows them to a person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relay_sandbox.telegram.formatting import as_html
from relay_sandbox.telegram.records import Json, Member, Message, Version
from relay_sandbox.telegram.state import World

_SERVICE_KEYS = (
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "group_chat_created",
    "forum_topic_created",
)


def message_to_api(world: World, msg: Message, *, with_reply: bool = True) -> Json:
    """The Bot API ``Message`` object for a stored message."""
    out: Json = {
        "message_id": msg.message_id,
        "date": msg.date,
        "chat": world.chats[msg.chat_id].to_api(),
    }
    if msg.sender_id is not None:
        out["from"] = world.users[msg.sender_id].to_api()
    if msg.sender_chat_id is not None:
        out["sender_chat"] = world.chats[msg.sender_chat_id].to_api()
    if msg.thread_id is not None:
        out["message_thread_id"] = msg.thread_id
        if msg.is_topic_message:
            out["is_topic_message"] = True
    if msg.text is not None:
        out["text"] = msg.text
        if msg.entities:
            out["entities"] = _entities_to_api(world, msg.entities)
    if msg.photo is not None:
        out["photo"] = msg.photo.to_api()
        if msg.has_spoiler:
            out["has_media_spoiler"] = True
        if msg.show_caption_above_media:
            out["show_caption_above_media"] = True
    if msg.caption is not None:
        out["caption"] = msg.caption
        if msg.caption_entities:
            out["caption_entities"] = _entities_to_api(world, msg.caption_entities)
    if msg.media_group_id is not None:
        out["media_group_id"] = msg.media_group_id
    if msg.link_preview_options is not None:
        out["link_preview_options"] = dict(msg.link_preview_options)
    # Only inline keyboards are part of a message; reply keyboards live in the client.
    if msg.reply_markup is not None and "inline_keyboard" in msg.reply_markup:
        out["reply_markup"] = dict(msg.reply_markup)
    if msg.protect_content:
        out["has_protected_content"] = True
    if msg.edit_date is not None:
        out["edit_date"] = msg.edit_date
    if with_reply and msg.reply_to is not None:
        replied = world.find(world.box_key(world.chats[msg.chat_id], msg.dialog_bot), msg.reply_to)
        if replied is not None:
            out["reply_to_message"] = message_to_api(world, replied, with_reply=False)
    for key in _SERVICE_KEYS:
        if key in msg.service:
            out[key] = msg.service[key]
    pinned_id = msg.service.get("pinned_message_id")
    if pinned_id is not None:
        box = world.box_key(world.chats[msg.chat_id], msg.dialog_bot)
        pinned = world.boxes.get(box, {}).get(pinned_id)
        if pinned is not None:
            out["pinned_message"] = message_to_api(world, pinned, with_reply=False)
    return out


def _entities_to_api(world: World, entities: tuple[Json, ...]) -> list[Json]:
    out = []
    for entity in entities:
        entity = dict(entity)
        user = entity.get("user")
        # A text_mention carries the whole User, as Telegram knows it.
        if isinstance(user, dict) and user.get("id") in world.users:
            entity["user"] = world.users[user["id"]].to_api()
        out.append(entity)
    return out


def member_to_api(world: World, member: Member, chat_type: str) -> Json:
    """The Bot API ``ChatMember`` object (one of its six variants)."""
    user = world.users[member.user_id].to_api()
    if member.status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if member.status == "administrator":
        out: Json = {"status": "administrator", "user": user, "can_be_edited": False}
        out["is_anonymous"] = False
        for right in (
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ):
            out[right] = right in member.rights
        extra = ("can_post_messages", "can_edit_messages")
        if chat_type != "channel":
            extra = ("can_pin_messages", "can_manage_topics")
        for right in extra:
            out[right] = right in member.rights
        return out
    if member.status == "kicked":
        return {"status": "kicked", "user": user, "until_date": 0}
    if member.status == "restricted":
        rights = dict.fromkeys(_RESTRICTED_RIGHTS, member.can_send_messages)
        return {"status": "restricted", "user": user, "is_member": True, "until_date": 0, **rights}
    return {"status": member.status, "user": user}


_RESTRICTED_RIGHTS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
)


@dataclass(frozen=True)
class DisplayedMessage:
    """One message of a transcript: what a reader sees, plus its history and marks.

    ``html`` is the text (or caption) with its entities as Telegram HTML, for live views.
    """

    chat_id: int
    message_id: int
    date: int
    sender: str
    sender_id: int | None
    text: str | None
    entities: tuple[Json, ...]
    photo: str | None
    photo_url: str | None
    caption: str | None
    caption_entities: tuple[Json, ...]
    media_group_id: str | None
    thread_id: int | None
    reply_markup: Json | None
    link_preview_options: Json | None
    disable_notification: bool
    service: Json
    edit_date: int | None
    history: tuple[Version, ...]
    deleted: bool
    pinned: bool
    html: str

    @property
    def content(self) -> str:
        """The visible text: the message text or the photo caption."""
        return self.text if self.text is not None else (self.caption or "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for the HTTP control API and server-sent events)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["entities"] = list(self.entities)
        out["caption_entities"] = list(self.caption_entities)
        out["history"] = [
            {
                "text": v.text,
                "caption": v.caption,
                "photo_url": v.photo.url if v.photo else None,
                "date": v.date,
            }
            for v in self.history
        ]
        return out


def displayed(world: World, msg: Message) -> DisplayedMessage:
    """The transcript view of a stored message."""
    if msg.sender_chat_id is not None:
        sender = world.chats[msg.sender_chat_id].title or str(msg.sender_chat_id)
    elif msg.sender_id is not None:
        user = world.users[msg.sender_id]
        sender = f"@{user.username}" if user.username else user.first_name
    else:
        sender = "Telegram"
    return DisplayedMessage(
        chat_id=msg.chat_id,
        message_id=msg.message_id,
        date=msg.date,
        sender=sender,
        sender_id=msg.sender_id,
        text=msg.text,
        entities=msg.entities,
        photo=msg.photo.file_id if msg.photo else None,
        photo_url=msg.photo.url if msg.photo else None,
        caption=msg.caption,
        caption_entities=msg.caption_entities,
        media_group_id=msg.media_group_id,
        thread_id=msg.thread_id,
        reply_markup=msg.reply_markup,
        link_preview_options=msg.link_preview_options,
        disable_notification=msg.disable_notification,
        service=dict(msg.service),
        edit_date=msg.edit_date,
        history=msg.history,
        deleted=msg.deleted,
        pinned=msg.pinned,
        html=(
            as_html(msg.text, msg.entities)
            if msg.text is not None
            else as_html(msg.caption or "", msg.caption_entities)
        )
        or "",
    )
