"""Telegram messages and channel posts as `relay.commands` invocations, and their answers.

python-telegram-bot's `CommandHandler` ignores channel posts and photo captions, so one
`MessageHandler` takes messages and channel posts alike and parses `/command[@bot] args` from
the text or the caption. Commands addressed to another bot are ignored; so are unknown commands
outside private chats (other bots in a group have their own).

Answers spend the bot's budgets like deliveries do (`Budgets.wait_turn`), so a crowd typing
commands at once is answered at the platform's pace, never refused; an editor's progress
message skips an edit while its chat's budget is closed and always shows the final count.
In a channel an answer is silent and removed after `channel_answer_seconds`, with the command.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram import Update as TgUpdate
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from relay.adapters.telegram.auth import TelegramAuthority
from relay.adapters.telegram.delivery import Delivery, retry_seconds
from relay.adapters.telegram.entities import body_markdown
from relay.adapters.telegram.menus import MenuListener, keyboard
from relay.adapters.telegram.menus import text as menu_text
from relay.adapters.telegram.photos import FILE_URL
from relay.adapters.telegram.render import render
from relay.budgets import Budget, Budgets
from relay.commands import EDITORS, EVERYONE, ChatKind, Commands, Invocation, Reply
from relay.config import Config
from relay.i18n import LANGUAGES, _, speaking, translate
from relay.media import NOT_DOWNLOADED, MediaRefused, MediaStore
from relay.menus import MENU_COMMANDS, Menus
from relay.model import Destination, Image, signature
from relay.replies import EDITED, PUBLISHED
from relay.subscriptions import Subscriptions

log = logging.getLogger(__name__)

_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]{3,32}))?(?=\s|$)")


# the answer to /post or /edit, in any language, up to its update id
def _confirmations() -> re.Pattern[str]:
    heads = {translate(lang).gettext(msg).partition("{id}")[0] for lang in LANGUAGES
             for msg in (PUBLISHED, EDITED)}  # fmt: skip
    either = "|".join(re.escape(h) for h in sorted(heads, key=len, reverse=True))
    return re.compile(rf"(?:{either})(?P<id>[A-Za-z0-9_.-]{{1,64}})\b")


_CONFIRMATION = _confirmations()
# a chat Destination accepts: no leading zero, at most 20 digits (\Z: no trailing newline)
_REMOTE = re.compile(r"(?:@[A-Za-z][A-Za-z0-9_]{3,31}|-[1-9]\d{4,19})\Z")
_REMOTE_COMMANDS = ("subscribe", "unsubscribe", "subscriptions")
_BODY_COMMANDS = ("post", "edit", "preview")
ANSWER_ATTEMPTS = 3  # an answer Telegram asks to wait for (429) is sent again, this often in all
_KINDS = {ChatType.PRIVATE: ChatKind.PRIVATE, ChatType.CHANNEL: ChatKind.CHANNEL}


def parse_command(text: str, bot_username: str) -> tuple[str, str] | None:
    """`(command, args)` of a command for this bot, or None."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    addressed = match.group("bot")
    if addressed is not None and addressed.lower() != bot_username.lower():
        return None
    return match.group("name").lower(), text[match.end() :].lstrip(" \t")


def split_target(args: str) -> tuple[str, str | None]:
    """An `@channel` or `-100…` chat first or last among the args: (the other args, the chat)."""
    first, newline, rest = args.partition("\n")
    words = first.split()
    for at in (-1, 0):
        if words and _REMOTE.match(words[at]):
            ref = words.pop(at)
            return " ".join(words) + newline + rest, ref
    return args, None


class CommandListener:
    """Answers commands: builds the invocation, asks `Commands`, replies natively."""

    def __init__(
        self,
        bot: Bot,
        config: Config,
        commands: Commands,
        subscriptions: Subscriptions,
        delivery: Delivery,
        progress_interval: float = 3.0,
        progress_timeout: float = 600.0,
        budgets: Budgets | None = None,
        spends: Callable[[Destination], tuple[Budget, ...]] | None = None,
        bot_name: str = "",
        media: MediaStore | None = None,
    ) -> None:
        self.bot = bot
        self.media = media  # None: a photo travels as its Telegram file id (this bot only)
        self.bot_name = bot_name  # which of the relay's bots this is: /subscribe binds to it
        self.config = config
        self.commands = commands
        self.subscriptions = subscriptions
        self.delivery = delivery
        self.progress_interval = progress_interval
        self.progress_timeout = progress_timeout
        self.budgets = budgets  # None: answer at once (a process without the relay's Redis)
        self.spends = spends or (lambda _dest: ())
        self.channel_answer_seconds = 30.0  # how long an answer stays in a channel
        menus = Menus(config, subscriptions, commands.ingest)
        self.menus = MenuListener(bot, config, menus, self._turn)
        self.tasks: set[asyncio.Task[None]] = set()

    async def _turn(self, chat: Destination) -> None:
        """Wait for this chat's next slot in the bot's budgets (a send or an edit)."""
        if self.budgets is not None:
            await self.budgets.wait_turn(self.spends(chat))

    async def _may_edit_now(self, chat: Destination) -> bool:
        """Spend a slot for an edit that may be skipped, if one is open now."""
        return self.budgets is None or await self.budgets.try_spend(self.spends(chat))

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def on_update(self, update: TgUpdate, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The handler callback for messages and channel posts."""
        msg = update.message or update.channel_post
        if msg is None:
            return
        if msg.migrate_to_chat_id is not None:
            old = Destination("telegram", str(msg.chat.id))
            new = Destination("telegram", str(msg.migrate_to_chat_id))
            moved = await self.subscriptions.move(old, new)
            log.info("chat migrated old=%s new=%s topics=%s", old, new, moved)
            return
        parsed = parse_command(msg.text or msg.caption or "", self.bot.username)
        if parsed is None:
            return
        command, args = parsed
        if command in _BODY_COMMANDS:  # the body as the editor formatted it in the app
            args = _formatted(msg, args)
        kind = _KINDS.get(ChatType(msg.chat.type), ChatKind.GROUP)
        known = (*EVERYONE, *EDITORS, *MENU_COMMANDS)
        if command not in known and kind is not ChatKind.PRIVATE:
            return
        await self.answer(msg, command, args, kind)

    async def answer(self, msg: Message, command: str, args: str, kind: ChatKind) -> None:
        thread = str(msg.message_thread_id) if msg.is_topic_message else None
        chat = Destination("telegram", str(msg.chat.id), thread)
        # Posted as the chat itself: a channel post, or an anonymous group admin (only admins
        # can post so; `from` is then GroupAnonymousBot, nobody in particular)
        as_chat = msg.sender_chat is not None and msg.sender_chat.id == msg.chat.id
        user_id = None if as_chat or msg.from_user is None else msg.from_user.id
        target = None
        if kind is ChatKind.PRIVATE and command in _REMOTE_COMMANDS:
            args, ref = split_target(args)
            target = await self._resolve(ref) if ref is not None else None
        language = (msg.from_user.language_code if user_id is not None and msg.from_user
                    else None) or ""  # fmt: skip
        auth = TelegramAuthority(self.bot, self.config, user_id, chat, as_chat=as_chat)
        markup = None
        try:
            if command in MENU_COMMANDS:  # answered with a keyboard (relay.menus)
                with speaking(language):
                    menu = await self.menus.answer(command, msg, chat, auth)
                reply, markup = Reply(menu_text(menu), ok=menu.ok), keyboard(menu)
            else:
                inv = Invocation(
                    command, args, chat, kind, str(user_id or ""), target=target,
                    reply_to_update=self._replied_update(msg),
                    author=_author(msg) if user_id is not None else "", bot=self.bot_name,
                    language=language,
                )  # fmt: skip
                early = await self._refused_before_the_photo(msg, inv, auth)
                if early is not None:
                    reply = early
                else:
                    inv = replace(inv, image=await self._image(msg, command, auth))
                    reply = await self.commands.handle(inv, auth)
        except MediaRefused as exc:  # too big, the store full, or not downloaded: nothing posted
            with speaking(language):
                reply = Reply(exc.said(), ok=False)
        except Exception:  # Redis down, say: the user still gets an answer
            log.exception("command /%s failed chat=%s user=%s", command, chat, user_id)
            with speaking(language):
                reply = Reply(_("Sorry, that did not work on our side. Please try again later."),
                              ok=False)  # fmt: skip
        log.info("command /%s chat=%s user=%s ok=%s", command, chat, user_id, reply.ok)
        if command == "post" and reply.ok and reply.update is not None and user_id is not None:
            await self._posted(f"telegram:{user_id}", reply.update.id)
        sent = await self._reply(chat, msg, reply, kind, markup)
        if kind is ChatKind.CHANNEL:  # keep the channel clean: the command post goes
            await _delete(msg, "command post", chat)
            if sent is not None:  # and the answer, once the admin had time to read it
                self._background(self._remove_later(sent, chat))
        tracked = reply.update is not None and not reply.preview and command in EDITORS
        if sent is not None and tracked and reply.update is not None:
            progress = self._progress(chat, sent, reply.text, reply.update.id, language)
            self._background(progress)

    async def _posted(self, editor: str, update_id: str) -> None:
        """Remember the post for the editor's /recent; a failure costs only that."""
        try:
            await self.menus.menus.posted(editor, update_id)
        except Exception:
            log.exception("post not remembered for /recent update=%s", update_id)

    async def _remove_later(self, sent: Message, chat: Destination) -> None:
        await asyncio.sleep(self.channel_answer_seconds)
        await _delete(sent, "answer", chat)

    async def _resolve(self, ref: str) -> Destination:
        """A remote chat by @username or id, as its numeric id when the bot can see it."""
        try:
            info = await self.bot.get_chat(int(ref) if ref.startswith("-") else ref)
        except TelegramError as exc:
            log.info("remote chat %s not visible: %s", ref, exc)
            return Destination("telegram", ref)
        return Destination("telegram", str(info.id))

    async def _refused_before_the_photo(
        self, msg: Message, inv: Invocation, auth: TelegramAuthority
    ) -> Reply | None:
        """An editor's /post with a photo whose topic or headline is wrong: its refusal, before
        the photo is downloaded and kept (it would count against the store until it expired)."""
        if not msg.photo or inv.command != "post" or not await auth.is_editor():
            return None
        with speaking(inv.language):
            draft = self.commands.draft(inv)
        return draft if isinstance(draft, Reply) else None

    async def _image(self, msg: Message, command: str, auth: TelegramAuthority) -> Image | None:
        """The photo a command came with. An editor's /post or /edit photo is downloaded into
        the media store (`relay.media`), so that every platform and bot can upload it; raises
        `MediaRefused` when it cannot be kept. Otherwise (no store, a preview) its file id
        travels in a URL only this bot reads."""
        if not msg.photo:
            return None
        size = msg.photo[-1]
        if self.media is None or command not in ("post", "edit") or not await auth.is_editor():
            return Image(FILE_URL + size.file_id)
        self.media.check_size(size.file_size or 0)
        try:
            data = bytes(await (await self.bot.get_file(size.file_id)).download_as_bytearray())
        except TelegramError as exc:
            log.warning("photo download failed chat=%s: %s", msg.chat.id, exc)
            raise MediaRefused(NOT_DOWNLOADED) from exc
        url = await self.media.put(data)
        self.delivery.photos.remember(url, size.file_id)  # this bot's copies reuse the upload
        return Image(url)

    def _replied_update(self, msg: Message) -> str | None:
        replied = msg.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != self.bot.id:
            return None
        match = _CONFIRMATION.search(replied.text or "")
        return match.group("id") if match else None

    async def _reply(
        self,
        chat: Destination,
        msg: Message,
        reply: Reply,
        kind: ChatKind,
        markup: InlineKeyboardMarkup | None = None,
    ) -> Message | None:
        """Send the answer (and a preview's rendering); the answer message, if sent."""
        channel = kind is ChatKind.CHANNEL
        try:
            for attempt in range(1, ANSWER_ATTEMPTS + 1):
                await self._turn(chat)
                try:
                    sent = await self.bot.send_message(
                        int(chat.chat_id), html.escape(reply.text, quote=False),
                        parse_mode=ParseMode.HTML, message_thread_id=_thread(chat),
                        reply_to_message_id=None if channel else msg.message_id,
                        disable_notification=True if channel else None, reply_markup=markup,
                    )  # fmt: skip
                    break
                except RetryAfter as exc:  # the chat's budgets hold as Telegram asks, then again
                    if attempt == ANSWER_ATTEMPTS or self.budgets is None:
                        raise
                    for budget in self.spends(chat):
                        await self.budgets.pause(budget, retry_seconds(exc))
            if reply.preview and reply.update is not None:
                topic = self.config.topic(reply.update.topic)
                if topic is not None:
                    for part in render(reply.update, topic):
                        await self._turn(chat)
                        await self.delivery.send_one(chat, part, silent=True, paid=False)
        except TelegramError as exc:
            log.warning("could not answer chat=%s: %s", chat, exc)
            return None
        return sent

    async def _progress(
        self, chat: Destination, sent: Message, text: str, update_id: str, language: str = ""
    ) -> None:
        """Edit the confirmation in place with the fan-out progress until it is done.

        An edit in progress goes only if the chat's budget has a slot open now (the next
        tick tries again); the final one waits for its turn.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.progress_timeout
        shown = ""
        while loop.time() < deadline:
            await asyncio.sleep(self.progress_interval)
            progress = await self.commands.progress(update_id)
            if progress is None:
                continue
            with speaking(language):  # the editor's, as the confirmation it extends
                summary = progress.summary()
            if summary != shown:
                if progress.done:
                    await self._turn(chat)
                elif not await self._may_edit_now(chat):
                    continue
                shown = summary
                try:
                    await sent.edit_text(html.escape(f"{text}\n\n{summary}", quote=False),
                                         parse_mode=ParseMode.HTML)  # fmt: skip
                except BadRequest as exc:
                    log.info("progress not shown update=%s: %s", update_id, exc)
                except TelegramError as exc:
                    log.warning("progress edit failed update=%s: %s", update_id, exc)
            if progress.done:
                return

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _formatted(msg: Message, args: str) -> str:
    """`args` with the lines after the first (the body) in Markdown, from the entities."""
    text = msg.text or msg.caption or ""
    first, newline, _ = args.partition("\n")
    if not newline:
        return args
    entities = msg.entities if msg.text else msg.caption_entities
    try:
        return first + "\n" + body_markdown(text, entities, text.index("\n") + 1)
    except Exception:  # a formatting we cannot read must not cost the editor an answer
        log.exception("formatting not read chat=%s", msg.chat.id)
        return args


def _author(msg: Message) -> str:
    """The name a post by `msg`'s sender is signed with; "" if it is no valid author."""
    return signature(msg.from_user.full_name if msg.from_user else "")


async def _delete(msg: Message, what: str, chat: Destination) -> None:
    """Delete `msg`; a failure (no right to, already gone) is logged, not raised."""
    try:
        await msg.delete()
    except TelegramError as exc:
        log.warning("could not delete the %s chat=%s: %s", what, chat, exc)


def _thread(chat: Destination) -> int | None:
    return int(chat.thread_id) if chat.thread_id else None


async def log_error(update: object, context: Any) -> None:
    """python-telegram-bot's error handler: a command that crashed is logged, not lost."""
    log.error("handler failed update=%r", update, exc_info=context.error)
