"""The sandbox's world: accounts, chats, memberships and message boxes, with access rules."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import replace

from relay_sandbox.telegram import errors
from relay_sandbox.telegram.errors import ApiError, bad_request
from relay_sandbox.telegram.records import (
    ADMIN_RIGHTS,
    Bot,
    Chat,
    ChatType,
    Member,
    Message,
    Status,
    Topic,
    User,
)

BoxKey = tuple[int, int]
_SUPERGROUP_BASE = -1_000_000_000_000


class World:
    """Everything the emulated Telegram knows; mutated only through its methods."""

    def __init__(self) -> None:
        self.bots: dict[str, Bot] = {}
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.members: dict[int, dict[int, Member]] = {}
        self.topics: dict[int, dict[int, Topic]] = {}
        self.dialogs: set[tuple[int, int]] = set()  # (bot id, user id) once the user wrote
        self.blocked: set[tuple[int, int]] = set()  # (bot id, user id)
        self.boxes: dict[BoxKey, dict[int, Message]] = {}
        self.files: dict[str, bytes] = {}
        self.file_urls: dict[str, str] = {}
        self.commands: dict[tuple[int, str, str], list[dict[str, str]]] = {}
        self._user_ids = itertools.count(100_000_001)
        self._bot_ids = itertools.count(7_000_000_001)
        self._group_ids = itertools.count(400_000_001)
        self._super_ids = itertools.count(1_000_000_001)
        self._box_ids: dict[BoxKey, Iterator[int]] = {}
        self._topic_ids: dict[int, Iterator[int]] = {}
        self._file_ids = itertools.count(1)

    # --- accounts and chats -------------------------------------------------------------

    def add_bot(
        self,
        username: str,
        *,
        token: str | None = None,
        first_name: str | None = None,
        can_read_all_group_messages: bool = False,
    ) -> Bot:
        """Create a bot; its token is derived from its id unless given."""
        bot_id = int(token.split(":", 1)[0]) if token else next(self._bot_ids)
        secret = hashlib.sha256(f"sandbox-{bot_id}".encode()).hexdigest()[:35]
        user = User(bot_id, first_name or username, is_bot=True, username=username)
        bot = Bot(user, token or f"{bot_id}:{secret}", True, can_read_all_group_messages)
        self.bots[bot.token] = bot
        self.users[bot_id] = user
        self.chats[bot_id] = Chat(bot_id, "private", None, username, user.first_name)
        return bot

    def add_user(
        self,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> User:
        """Create a person and their private chat."""
        user = User(next(self._user_ids), first_name, False, last_name, username, language_code)
        self.users[user.id] = user
        self.chats[user.id] = Chat(user.id, "private", None, username, first_name, last_name)
        return user

    def add_chat(
        self,
        type_: ChatType,
        title: str,
        *,
        username: str | None = None,
        is_forum: bool = False,
        creator: int | None = None,
    ) -> Chat:
        """Create a group, supergroup or channel (optionally with its creator)."""
        if type_ == "group":
            chat_id = -next(self._group_ids)
        elif type_ in ("supergroup", "channel"):
            chat_id = _SUPERGROUP_BASE - next(self._super_ids)
        else:
            raise ValueError("private chats come with their user")
        chat = Chat(chat_id, type_, title, username, is_forum=is_forum and type_ == "supergroup")
        self.chats[chat_id] = chat
        if chat.is_forum:
            # Thread 1 is the General topic (its messages carry no message_thread_id): the
            # first topic a forum opens gets the id of its creation message, 2 or more.
            self.next_message_id((chat_id, 0))
        self.members[chat_id] = {}
        if creator is not None:
            self.set_member(chat_id, creator, "creator")
        return chat

    def set_member(
        self,
        chat_id: int,
        user_id: int,
        status: Status,
        *,
        rights: tuple[str, ...] | frozenset[str] = (),
        can_send_messages: bool = True,
    ) -> Member:
        """Set a user's or bot's status (and admin rights) in a chat."""
        self.chat(chat_id)
        self.user(user_id)
        unknown = set(rights) - set(ADMIN_RIGHTS)
        if unknown:
            raise ValueError(f"unknown rights: {sorted(unknown)}")
        member = Member(user_id, status, frozenset(rights), can_send_messages)
        self.members.setdefault(chat_id, {})[user_id] = member
        return member

    def member(self, chat_id: int, user_id: int) -> Member | None:
        """The user's standing in the chat, if any was ever set."""
        return self.members.get(chat_id, {}).get(user_id)

    def add_topic(self, chat_id: int, name: str) -> Topic:
        """Open a forum topic; its thread id is the id of its creation message, as in Telegram
        (never 1: that is the General topic's)."""
        chat = self.chat(chat_id)
        if not chat.is_forum:
            raise ValueError(f"chat {chat_id} is not a forum")
        thread_id = self.next_message_id((chat_id, 0))
        topic = Topic(thread_id, name)
        self.topics.setdefault(chat_id, {})[thread_id] = topic
        return topic

    def update_chat(self, chat: Chat) -> Chat:
        """Replace a chat record (deleted, migrated, renamed)."""
        self.chats[chat.id] = chat
        return chat

    def update_user(self, user: User) -> User:
        """Replace a user record (deactivated)."""
        self.users[user.id] = user
        return user

    def chat(self, chat_id: int) -> Chat:
        """The chat, or ``KeyError``-free ValueError for control-API misuse."""
        try:
            return self.chats[chat_id]
        except KeyError:
            raise ValueError(f"unknown chat {chat_id}") from None

    def user(self, user_id: int) -> User:
        """The account, or ValueError."""
        try:
            return self.users[user_id]
        except KeyError:
            raise ValueError(f"unknown user {user_id}") from None

    def bot_by_id(self, bot_id: int) -> Bot:
        """The bot with that user id, or ValueError."""
        for bot in self.bots.values():
            if bot.id == bot_id:
                return bot
        raise ValueError(f"unknown bot {bot_id}")

    # --- what a bot may do ---------------------------------------------------------------

    def resolve(self, ref: int | str) -> Chat:
        """A chat by id or ``@username`` as a bot names it, or 400 chat not found."""
        if isinstance(ref, str):
            name = ref.removeprefix("@").lower()
            for chat in self.chats.values():
                if chat.type != "private" and (chat.username or "").lower() == name:
                    return chat
            raise ApiError(400, errors.CHAT_NOT_FOUND)
        found = self.chats.get(ref)
        if found is None:
            raise ApiError(400, errors.CHAT_NOT_FOUND)
        return found

    def check_access(self, bot: Bot, chat: Chat, *, write: bool) -> Member | None:
        """Raise the error the real server gives when ``bot`` cannot see (or write to) ``chat``."""
        if chat.type == "private":
            user = self.users[chat.id]
            if write:
                if user.is_bot:
                    raise errors.forbidden(errors.BOT_TO_BOT)
                if user.deactivated:
                    raise errors.forbidden(errors.DEACTIVATED)
                if (bot.id, user.id) in self.blocked:
                    raise errors.forbidden(errors.BLOCKED)
                if (bot.id, user.id) not in self.dialogs:
                    raise errors.forbidden(errors.CANT_INITIATE)
            return None
        if chat.migrated_to is not None:
            raise errors.upgraded(chat.migrated_to)
        if chat.deleted:
            if chat.type == "group":
                raise errors.forbidden(errors.GROUP_DELETED)
            raise ApiError(400, errors.CHAT_NOT_FOUND)
        member = self.member(chat.id, bot.id)
        if member is None or member.status == "left":
            raise errors.forbidden(errors.not_member(chat.type))
        if member.status == "kicked":
            raise errors.forbidden(errors.kicked(chat.type))
        if write and chat.type == "channel" and not member.can("can_post_messages"):
            raise bad_request("need administrator rights in the channel chat")
        if write and member.status == "restricted" and not member.can_send_messages:
            raise bad_request("not enough rights to send text messages to the chat")
        return member

    # --- message boxes -------------------------------------------------------------------

    @staticmethod
    def box_key(chat: Chat, bot_id: int | None) -> BoxKey:
        """Private chats hold one box per bot (each bot sees its own dialog); others one."""
        return (chat.id, bot_id or 0) if chat.type == "private" else (chat.id, 0)

    def next_message_id(self, key: BoxKey) -> int:
        """The next message id in a box (ids count up per chat)."""
        counter = self._box_ids.setdefault(key, itertools.count(1))
        return next(counter)

    def store(self, message: Message) -> Message:
        """Put a message (new or edited) in its box."""
        chat = self.chats[message.chat_id]
        key = self.box_key(chat, message.dialog_bot)
        self.boxes.setdefault(key, {})[message.message_id] = message
        return message

    def find(self, key: BoxKey, message_id: int) -> Message | None:
        """A stored message that is not deleted."""
        found = self.boxes.get(key, {}).get(message_id)
        return None if found is None or found.deleted else found

    def messages(self, key: BoxKey) -> list[Message]:
        """Every message of a box in id order, deleted ones included."""
        return [m for _, m in sorted(self.boxes.get(key, {}).items())]

    def new_file_id(self, data: bytes | None = None) -> tuple[str, str]:
        """A fresh (file_id, file_unique_id) pair; uploaded bytes are kept by file id."""
        n = next(self._file_ids)
        digest = hashlib.sha256(f"file-{n}".encode()).hexdigest()
        file_id = f"AgACAgSandbox{n:06d}{digest[:24]}"
        if data is not None:
            self.files[file_id] = data
        return file_id, f"AQAD{digest[24:40]}"

    def mark(self, message: Message, **changes: object) -> Message:
        """Store a changed copy of a message."""
        return self.store(replace(message, **changes))  # type: ignore[arg-type]
