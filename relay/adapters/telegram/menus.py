"""`/settings` and `/recent` on Telegram: menus as inline keyboards; a press is a callback query.

The answer to `/settings` carries one button per setting and topic. Pressing one sends its
`callback_data` back; the bot checks the presser again (an admin in a group or channel), toggles
the setting, edits the keyboard to show the new state, and answers the callback query with a
short confirmation (a refusal shows as an alert). Editing the menu spends the chat's budget
like any answer.

`/recent` lists an editor's last updates with a button to edit and one to delete each. A delete
asks to confirm in the same keyboard. Telegram has no form a bot can open, so Edit answers with
the exact `/edit <id> <headline>` command to complete and send: the editor changes what they
want in the app's own editor, with its formatting.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram import Update as TgUpdate
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from relay.adapters.telegram.auth import TelegramAuthority
from relay.commands import ChatKind
from relay.config import Config
from relay.i18n import N_, _, speaking
from relay.menus import Menu, Menus, Pressed
from relay.model import Destination

log = logging.getLogger(__name__)
FAILED = N_("Sorry, that did not work on our side. Please try again later.")
KINDS = {ChatType.PRIVATE: ChatKind.PRIVATE, ChatType.CHANNEL: ChatKind.CHANNEL}


def keyboard(menu: Menu) -> InlineKeyboardMarkup | None:
    """One button a row; each names its topic when the menu shows several."""
    several = len(menu.groups) > 1
    rows = [
        [InlineKeyboardButton(f"{g.title} · {c.label}" if several else c.label,
                              callback_data=c.data)]
        for g in menu.groups for c in g.choices
    ]  # fmt: skip
    return InlineKeyboardMarkup(rows) if rows else None


def text(menu: Menu) -> str:
    """The menu's text, with the topic's title when the buttons do not name it."""
    return menu.text + (f"\n\n{menu.groups[0].title}" if len(menu.groups) == 1 else "")


class MenuListener:
    """Answers `/settings` and presses of its buttons for one bot."""

    def __init__(
        self, bot: Bot, config: Config, menus: Menus, turn: Callable[[Destination], Awaitable[None]]
    ) -> None:
        self.bot = bot
        self.config = config
        self.menus = menus
        self.turn = turn  # waits for the chat's slot in the bot's budgets

    async def answer(
        self, command: str, msg: Message, chat: Destination, auth: TelegramAuthority
    ) -> Menu:
        """The menu answering `/settings` or `/recent` typed in `chat` (the caller sends it)."""
        if command == "recent":
            return await self.menus.recent(f"telegram:{auth.user_id}", auth)
        kind = KINDS.get(ChatType(msg.chat.type), ChatKind.GROUP)
        return await self.menus.settings(chat, kind, auth)

    async def on_callback(self, update: TgUpdate, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button of a menu was pressed: answered in the language of who pressed it."""
        query = update.callback_query
        with speaking(query.from_user.language_code or "" if query is not None else ""):
            await self._pressed(update)

    async def _pressed(self, update: TgUpdate) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        msg = query.message
        if not isinstance(msg, Message):  # too old for Telegram to say which message it was
            await query.answer()
            return
        thread = str(msg.message_thread_id) if msg.is_topic_message else None
        chat = Destination("telegram", str(msg.chat.id), thread)
        kind = KINDS.get(ChatType(msg.chat.type), ChatKind.GROUP)
        auth = TelegramAuthority(self.bot, self.config, query.from_user.id, chat)
        editor = f"telegram:{query.from_user.id}"
        try:
            pressed = await self.menus.press(query.data, chat, kind, auth, editor)
        except Exception:
            log.exception("menu press failed chat=%s user=%s", chat, query.from_user.id)
            pressed = Pressed(None, _(FAILED), alert=True)
        menu = pressed.menu
        log.info("menu press chat=%s user=%s data=%s changed=%s",
                 chat, query.from_user.id, query.data, menu is not None)  # fmt: skip
        try:  # an edit's instructions are too long for an answer: they come as a message
            await query.answer(None if pressed.edit else pressed.answer[:200],
                               show_alert=pressed.alert)  # fmt: skip
        except TelegramError as exc:
            log.info("callback query not answered chat=%s: %s", chat, exc)
        if pressed.edit is not None:
            await self.turn(chat)
            try:
                await self.bot.send_message(
                    int(chat.chat_id),
                    pressed.answer,
                    message_thread_id=int(thread) if thread else None,
                )
            except TelegramError as exc:
                log.warning("edit instructions not sent chat=%s: %s", chat, exc)
        if menu is None:
            return
        await self.turn(chat)
        try:
            await msg.edit_text(html.escape(text(menu), quote=False), parse_mode=ParseMode.HTML,
                                reply_markup=keyboard(menu))  # fmt: skip
        except BadRequest as exc:  # "message is not modified": it already shows this
            log.info("settings menu not edited chat=%s: %s", chat, exc)
        except TelegramError as exc:
            log.warning("settings menu edit failed chat=%s: %s", chat, exc)
