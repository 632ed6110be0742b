"""The in-process control API: build the world, act as users, break things, read transcripts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from relay_sandbox.telegram import users
from relay_sandbox.telegram.core import Engine, RequestRecord
from relay_sandbox.telegram.events import EventStream, SandboxEvent
from relay_sandbox.telegram.faults import Faults
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import (
    ADMIN_RIGHTS,
    CHANNEL_ONLY,
    GROUP_ONLY,
    Bot,
    Chat,
    ChatType,
    Json,
    Member,
    Message,
    Status,
    Topic,
    User,
)
from relay_sandbox.telegram.render import (
    DisplayedMessage,
    displayed,
    member_to_api,
)
from relay_sandbox.telegram.state import World

BotRef = Bot | int | str


def default_rights(chat_type: str) -> tuple[str, ...]:
    """Every admin right that applies to the chat type."""
    skip = GROUP_ONLY if chat_type == "channel" else CHANNEL_ONLY
    return tuple(r for r in ADMIN_RIGHTS if r not in skip)


class TelegramControl:
    """What tests, the demo and benchmarks do to the emulated Telegram."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def world(self) -> World:
        """The raw world (read-only use)."""
        return self.engine.world

    # --- building the world -----------------------------------------------------------

    def create_bot(
        self,
        username: str,
        *,
        token: str | None = None,
        first_name: str | None = None,
        can_read_all_group_messages: bool = False,
    ) -> Bot:
        """A bot account; ``bot.token`` is what PTB is given."""
        return self.engine.world.add_bot(
            username,
            token=token,
            first_name=first_name,
            can_read_all_group_messages=can_read_all_group_messages,
        )

    def create_user(
        self, first_name: str, *, username: str | None = None, last_name: str | None = None,
        language_code: str | None = None,
    ) -> User:  # fmt: skip
        """A person (with their private chat); `language_code`: their app's language ("uk")."""
        return self.engine.world.add_user(first_name, username=username, last_name=last_name,
                                          language_code=language_code)  # fmt: skip

    def create_chat(
        self,
        type_: ChatType,
        title: str,
        *,
        username: str | None = None,
        is_forum: bool = False,
        creator: int | None = None,
        members: tuple[int, ...] = (),
    ) -> Chat:
        """A group, supergroup (``is_forum`` for topics) or channel."""
        chat = self.engine.world.add_chat(
            type_, title, username=username, is_forum=is_forum, creator=creator
        )
        for user_id in members:
            self.engine.world.set_member(chat.id, user_id, "member")
        return chat

    def create_topic(self, chat_id: int, name: str, *, creator: int | None = None) -> Topic:
        """A forum topic; its ``thread_id`` is the message_thread_id to send to.

        As in Telegram, the topic starts with a ``forum_topic_created`` service message whose
        id is the thread id (bots in the forum receive it).
        """
        topic = self.engine.world.add_topic(chat_id, name)
        users.topic_created(self.engine, chat_id, topic, creator)
        return topic

    def set_member(
        self,
        chat_id: int,
        user: BotRef | User,
        status: Status,
        *,
        rights: tuple[str, ...] = (),
        can_send_messages: bool = True,
    ) -> Member:
        """Set a member's status; a bot receives the my_chat_member update."""
        world = self.engine.world
        user_id = self._user_id(user)
        chat = world.chat(chat_id)
        old = world.member(chat_id, user_id) or Member(user_id, "left")
        new = world.set_member(
            chat_id, user_id, status, rights=rights, can_send_messages=can_send_messages
        )
        if world.users[user_id].is_bot:
            actor = next(
                (m.user_id for m in world.members[chat_id].values() if m.status == "creator"),
                user_id,
            )
            self.engine.queue(user_id).push(
                "my_chat_member",
                {
                    "chat": chat.to_api(),
                    "from": world.users[actor].to_api(),
                    "date": self.engine.date(),
                    "old_chat_member": member_to_api(world, old, chat.type),
                    "new_chat_member": member_to_api(world, new, chat.type),
                },
            )
        return new

    def add_bot(
        self,
        chat_id: int,
        bot: BotRef,
        *,
        admin: bool = True,
        rights: tuple[str, ...] | None = None,
    ) -> Member:
        """Put a bot in a chat: as an admin (all rights of the chat type unless given)."""
        chat = self.engine.world.chat(chat_id)
        if not admin:
            return self.set_member(chat_id, bot, "member")
        given = default_rights(chat.type) if rights is None else rights
        return self.set_member(chat_id, bot, "administrator", rights=given)

    # --- acting as users ---------------------------------------------------------------

    def send_message(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        bot: BotRef | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
        photo: bytes | None = None,
        caption: str | None = None,
        entities: tuple[Json, ...] | None = None,
        anonymous: bool = False,
    ) -> DisplayedMessage:
        """A user writes: to a bot (``bot=``; private chat) or in a group/supergroup/channel.

        In a channel the post shows the channel as ``sender_chat`` and no ``from``; so does an
        ``anonymous`` supergroup admin's message, whose ``from`` is GroupAnonymousBot. Commands
        get ``bot_command`` entities; bots that see the message receive it as an Update.
        """
        if chat_id is None or chat_id == user_id:
            if bot is None:
                raise ValueError("a private message needs bot=")
            chat_id, dialog = user_id, self._bot(bot).id
        else:
            dialog = None
        msg = users.send(
            self.engine,
            user_id,
            chat_id,
            text,
            dialog_bot=dialog,
            thread_id=thread_id,
            reply_to=reply_to,
            photo=photo,
            caption=caption,
            entities=entities,
            anonymous=anonymous,
        )
        return displayed(self.engine.world, msg)

    def edit_message(
        self, user_id: int, chat_id: int, message_id: int, text: str, *, bot: BotRef | None = None
    ) -> DisplayedMessage:
        """A user edits their message; bots that saw it get edited_message/edited_channel_post."""
        dialog = self._bot(bot).id if bot is not None else None
        msg = users.edit(self.engine, user_id, chat_id, message_id, text, dialog_bot=dialog)
        return displayed(self.engine.world, msg)

    def press_button(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        bot: BotRef | None = None,
    ) -> str:
        """A user presses an inline button; the bot gets a callback_query. Returns its id."""
        dialog = self._bot(bot).id if bot is not None else None
        return users.press_button(
            self.engine, user_id, chat_id, message_id, data, dialog_bot=dialog
        )

    def callback_answer(self, query_id: str) -> Json | None:
        """What the bot answered to a callback query, if it did."""
        return self.engine.callback_answers.get(query_id)

    # --- breaking things ----------------------------------------------------------------

    def block(self, user_id: int, bot: BotRef) -> None:
        """The user blocks the bot: sends get 403 "bot was blocked by the user"."""
        self.engine.world.blocked.add((self._bot(bot).id, user_id))

    def unblock(self, user_id: int, bot: BotRef) -> None:
        """The user unblocks the bot."""
        self.engine.world.blocked.discard((self._bot(bot).id, user_id))

    def deactivate(self, user_id: int) -> None:
        """The account is deleted: sends get 403 "user is deactivated"."""
        world = self.engine.world
        world.update_user(replace(world.user(user_id), deactivated=True))

    def kick_bot(self, chat_id: int, bot: BotRef) -> None:
        """The bot is banned from the chat: 403 "bot was kicked from the … chat"."""
        self.set_member(chat_id, bot, "kicked")

    def remove_bot(self, chat_id: int, bot: BotRef) -> None:
        """The bot left the chat: 403 "bot is not a member of the … chat"."""
        self.set_member(chat_id, bot, "left")

    def delete_chat(self, chat_id: int) -> None:
        """The chat is deleted (a group: 403 "the group chat was deleted")."""
        world = self.engine.world
        world.update_chat(replace(world.chat(chat_id), deleted=True))

    def migrate(self, chat_id: int) -> Chat:
        """Upgrade a basic group to a supergroup, with both service messages as updates."""
        world = self.engine.world
        old = world.chat(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise ValueError(f"chat {chat_id} is not a basic group")
        new = world.add_chat("supergroup", old.title or "", username=old.username)
        for member in world.members.get(old.id, {}).values():
            world.members[new.id][member.user_id] = member
        world.update_chat(replace(old, migrated_to=new.id))
        creator = next(
            (m.user_id for m in world.members[old.id].values() if m.status == "creator"), None
        )
        notes = (
            (old.id, {"migrate_to_chat_id": new.id}),
            (new.id, {"migrate_from_chat_id": old.id}),
        )
        for target, service in notes:
            msg = Message(
                chat_id=target,
                message_id=world.next_message_id((target, 0)),
                date=self.engine.date(),
                sender_id=creator,
                service=service,
            )
            world.store(msg)
            self.engine.emit("message_sent", msg)
            self.engine.deliver(msg)
        return world.chat(new.id)

    def set_limits(self, limits: TelegramLimits) -> None:
        """Replace the flood limits (``TelegramLimits.off()`` for benchmarks)."""
        self.engine.limiter.configure(limits)

    @property
    def faults(self) -> Faults:
        """Fault injection (see ``Faults``)."""
        return self.engine.faults

    # --- reading ------------------------------------------------------------------------

    def transcript(
        self, chat_id: int, *, bot: BotRef | None = None, include_deleted: bool = False
    ) -> tuple[DisplayedMessage, ...]:
        """The chat as displayed; deleted messages hidden, or kept and marked."""
        world = self.engine.world
        chat = world.chat(chat_id)
        dialog = None
        if chat.type == "private":
            dialog = self._bot(bot).id if bot is not None else self._only_dialog(chat_id)
        msgs = world.messages(world.box_key(chat, dialog))
        return tuple(displayed(world, m) for m in msgs if include_deleted or not m.deleted)

    def requests(self, method: str | None = None) -> list[RequestRecord]:
        """The Bot API request log, optionally for one method (any letter case)."""
        log = self.engine.requests
        if method is None:
            return list(log)
        return [r for r in log if r.method.lower() == method.lower()]

    def pending_updates(self, bot: BotRef) -> tuple[Json, ...]:
        """Updates the bot has not confirmed yet."""
        return self.engine.queue(self._bot(bot).id).pending

    def events(self) -> EventStream:
        """An async iterator of transcript events from now on."""
        return self.engine.hub.stream()

    def subscribe(self, callback: Callable[[SandboxEvent], None]) -> Callable[[], None]:
        """Call ``callback`` on each transcript event; returns the unsubscribe function."""
        return self.engine.hub.subscribe(callback)

    # --- helpers ------------------------------------------------------------------------

    def _bot(self, ref: BotRef) -> Bot:
        world = self.engine.world
        if isinstance(ref, Bot):
            return ref
        if isinstance(ref, int):
            return world.bot_by_id(ref)
        if ref in world.bots:
            return world.bots[ref]
        for bot in world.bots.values():
            if (bot.user.username or "").lower() == ref.removeprefix("@").lower():
                return bot
        raise ValueError(f"unknown bot {ref!r}")

    def _user_id(self, ref: BotRef | User) -> int:
        if isinstance(ref, User):
            return ref.id
        if isinstance(ref, int) and ref in self.engine.world.users:
            return ref
        return self._bot(ref).id

    def _only_dialog(self, user_id: int) -> int | None:
        bots = sorted(b for b, u in self.engine.world.dialogs if u == user_id)
        if len(bots) > 1:
            raise ValueError(f"user {user_id} talks to several bots: pass bot=")
        return bots[0] if bots else None
