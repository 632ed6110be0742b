"""The sandbox's records: users, bots, chats, members, topics and messages as stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ChatType = Literal["private", "group", "supergroup", "channel"]
Status = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]
Json = dict[str, Any]

#: Every boolean right of ChatMemberAdministrator; a bot made admin gets the ones it is given.
ADMIN_RIGHTS = (
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
    "can_post_messages",
    "can_edit_messages",
    "can_pin_messages",
    "can_manage_topics",
)
#: Rights the spec lists only for channels or only for supergroups.
CHANNEL_ONLY = frozenset({"can_post_messages", "can_edit_messages"})
GROUP_ONLY = frozenset({"can_pin_messages", "can_manage_topics"})


@dataclass(frozen=True)
class User:
    """A Telegram account: a person or a bot."""

    id: int
    first_name: str
    is_bot: bool = False
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    deactivated: bool = False

    def to_api(self) -> Json:
        """The Bot API ``User`` object."""
        out: Json = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class Bot:
    """A bot account with its token."""

    user: User
    token: str
    can_join_groups: bool = True
    can_read_all_group_messages: bool = False

    @property
    def id(self) -> int:
        """The bot's user id."""
        return self.user.id

    def to_api(self) -> Json:
        """The ``User`` object getMe returns."""
        return {
            **self.user.to_api(),
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


@dataclass(frozen=True)
class Chat:
    """A chat of any type; a private chat's id is its user's id."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    deleted: bool = False
    migrated_to: int | None = None

    def to_api(self) -> Json:
        """The Bot API ``Chat`` object."""
        out: Json = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.is_forum:
            out["is_forum"] = True
        return out


@dataclass(frozen=True)
class Member:
    """A user's (or bot's) standing in a group, supergroup or channel."""

    user_id: int
    status: Status
    rights: frozenset[str] = frozenset()
    can_send_messages: bool = True

    def can(self, right: str) -> bool:
        """Creators hold every right; administrators the ones they were given."""
        return self.status == "creator" or (self.status == "administrator" and right in self.rights)


@dataclass(frozen=True)
class Topic:
    """A forum topic of a supergroup."""

    thread_id: int
    name: str


@dataclass(frozen=True)
class Photo:
    """A stored photo: one size is enough for the sandbox."""

    file_id: str
    file_unique_id: str
    width: int = 1280
    height: int = 720
    file_size: int | None = None
    #: Where a photo sent by URL came from (Telegram would have downloaded it).
    url: str | None = None

    def to_api(self) -> list[Json]:
        """The ``photo`` array of PhotoSize a Message carries."""
        size: Json = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width,
            "height": self.height,
        }
        if self.file_size is not None:
            size["file_size"] = self.file_size
        return [size]


@dataclass(frozen=True)
class Version:
    """The content a message showed before an edit."""

    text: str | None
    entities: tuple[Json, ...]
    caption: str | None
    caption_entities: tuple[Json, ...]
    reply_markup: Json | None
    date: int
    photo: Photo | None = None


@dataclass(frozen=True)
class Message:
    """A message as the chat displays it, with its edit history and deleted/pinned marks."""

    chat_id: int
    message_id: int
    date: int
    sender_id: int | None
    sender_chat_id: int | None = None
    text: str | None = None
    entities: tuple[Json, ...] = ()
    photo: Photo | None = None
    caption: str | None = None
    caption_entities: tuple[Json, ...] = ()
    media_group_id: str | None = None
    thread_id: int | None = None
    is_topic_message: bool = False
    reply_to: int | None = None
    reply_markup: Json | None = None
    link_preview_options: Json | None = None
    disable_notification: bool = False
    protect_content: bool = False
    show_caption_above_media: bool = False
    has_spoiler: bool = False
    service: Json = field(default_factory=dict)
    edit_date: int | None = None
    history: tuple[Version, ...] = ()
    deleted: bool = False
    pinned: bool = False
    #: The bot whose private dialog holds this message (None outside private chats).
    dialog_bot: int | None = None
    #: The bot that sent it (also for channel posts, which show no sender).
    posted_by: int | None = None

    def version(self) -> Version:
        """The current content, to keep in the history before an edit."""
        return Version(
            self.text,
            self.entities,
            self.caption,
            self.caption_entities,
            self.reply_markup,
            self.edit_date or self.date,
            self.photo,
        )
