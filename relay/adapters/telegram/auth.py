"""Who may do what, as Telegram knows it: editors by user id, chat admins by getChatMember."""

from __future__ import annotations

import logging

from telegram import Bot, ChatMember
from telegram.error import TelegramError

from relay.adapters.telegram.delivery import chat_ref
from relay.config import Config
from relay.i18n import _
from relay.model import Destination

log = logging.getLogger(__name__)

ADMIN = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


class TelegramAuthority:
    """The `relay.commands.Authority` for one command typed on Telegram.

    `chat` is where the command was typed. A command posted as the chat itself (`as_chat`: a
    channel post, or a group admin posting anonymously) is trusted for that chat, since only its
    administrators can post so. Otherwise, for a group the user must be an administrator; for
    another chat (a remote channel) both the user and the bot must be.
    """

    def __init__(
        self,
        bot: Bot,
        config: Config,
        user_id: int | None,
        chat: Destination,
        *,
        as_chat: bool = False,
    ) -> None:
        self.bot = bot
        self.config = config
        self.user_id = user_id
        self.chat = chat
        self.as_chat = as_chat

    async def is_editor(self) -> bool:
        return self.user_id is not None and self.user_id in self.config.editors.telegram_users

    async def may_manage(self, dest: Destination) -> str | None:
        remote = dest.chat_id != self.chat.chat_id
        if not remote and self.as_chat:
            return None
        if self.user_id is None:
            return _("I can't tell who sent this command, so I can't check that you are an admin.")
        if not remote:
            if await self._status(dest, self.user_id) in ADMIN:
                return None
            return _("Sorry, only this chat's administrators can change what it receives.")
        bot_ok = await self._bot_can_post(dest)
        user_ok = bot_ok and await self._status(dest, self.user_id) in ADMIN
        if bot_ok and user_ok:
            return None
        name = await self._name(dest)
        if not bot_ok:
            return _("I am not an administrator of {chat}: add me as an admin who can post "
                     "messages there, then try again.").format(chat=name)  # fmt: skip
        text = _("You are not an administrator of {chat}, so you can't manage what it receives.")
        return text.format(chat=name)

    async def _name(self, dest: Destination) -> str:
        if dest.chat_id.startswith("@"):
            return dest.chat_id
        try:
            chat = await self.bot.get_chat(chat_ref(dest.chat_id))
        except TelegramError:
            return _("that chat")
        return f"@{chat.username}" if chat.username else f"“{chat.title or chat.id}”"

    async def _status(self, dest: Destination, user_id: int) -> str | None:
        try:
            member = await self.bot.get_chat_member(chat_ref(dest.chat_id), user_id)
        except TelegramError as exc:
            log.info("getChatMember failed chat=%s user=%s: %s", dest, user_id, exc)
            return None
        return member.status

    async def _bot_can_post(self, dest: Destination) -> bool:
        try:
            member = await self.bot.get_chat_member(chat_ref(dest.chat_id), self.bot.id)
        except TelegramError as exc:
            log.info("getChatMember for the bot failed chat=%s: %s", dest, exc)
            return False
        if member.status == ChatMember.OWNER:
            return True
        if member.status != ChatMember.ADMINISTRATOR:
            return False
        can_post = getattr(member, "can_post_messages", None)
        return can_post is not False
