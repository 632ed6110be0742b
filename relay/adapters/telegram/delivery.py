"""Sending, editing, deleting and pinning rendered messages, with Telegram's errors translated.

Errors (python-telegram-bot's → the relay's): `RetryAfter` → `RateLimited(retry_after)`;
`Forbidden` (blocked, kicked, not a member, group deleted, user deactivated) and the 400s that
mean the chat is gone or closed to the bot ("chat not found", "need administrator rights") →
`Gone`; `ChatMigrated` → `Moved(new id)`; any other `BadRequest` → `Rejected` with Telegram's
description; `NetworkError`/`TimedOut` (502 and other 5xx arrive as NetworkError), `Conflict`
and `InvalidToken` → `Transient`. "Message is not modified" on an edit is a success.

Delivery is at-least-once for the one message in flight: Telegram has no idempotency key, so
if the process dies after Telegram accepted a message but before the ledger recorded its id,
the retry sends it again (one duplicate). A multi-part send that fails half way keeps the parts
it sent (the caller's `done` list holds their ids): the relay records them, and the retry sends
only the parts after them, so a reader never sees parts vanish and come back.
"""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)

from relay.adapter import Pace, no_pace
from relay.adapters.telegram.render import BREAKING, TelegramMessage
from relay.errors import DeliveryError, Gone, Moved, RateLimited, Rejected, Transient
from relay.model import Destination

log = logging.getLogger(__name__)

NOT_MODIFIED = "message is not modified"
# 400s that mean the chat is closed to the bot for good: unsubscribe rather than dead-letter.
_GONE_400 = ("chat not found", "need administrator rights", "not enough rights to send")
_WRONG_KIND = ("there is no text in the message to edit", "there is no caption in the message")
_ALREADY_GONE = ("message to delete not found",)


def chat_ref(chat_id: str) -> int | str:
    """A destination's chat id as the Bot API takes it (an int, or an @username)."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


def retry_seconds(exc: RetryAfter) -> float:
    """`retry_after` in seconds, whatever PTB's deprecation switch returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def translate(
    exc: TelegramError, dest: Destination, update_id: str = "", budget_key: str | None = None
) -> DeliveryError:
    """The relay's error for a python-telegram-bot error."""
    context = {"platform": "telegram", "destination": str(dest), "update_id": update_id}
    if isinstance(exc, RetryAfter):
        return RateLimited(retry_seconds(exc), budget_key=budget_key, **context)
    if isinstance(exc, ChatMigrated):
        return Moved(str(exc.new_chat_id), **context)
    if isinstance(exc, Forbidden):
        return Gone(exc.message, **context)
    if isinstance(exc, BadRequest):
        text = exc.message.lower()
        if any(marker in text for marker in _GONE_400):
            return Gone(exc.message, **context)
        return Rejected(exc.message, **context)
    return Transient(f"{type(exc).__name__}: {exc.message}", **context)


class Delivery:
    """One bot's send/edit/delete of rendered messages to one destination at a time."""

    def __init__(self, bot: Bot, bot_id: int, paid_broadcast: bool = False) -> None:
        self.bot = bot
        self.bot_id = bot_id
        self.paid = paid_broadcast

    async def send_one(
        self, dest: Destination, msg: TelegramMessage, silent: bool, paid: bool | None = None
    ) -> Message:
        """One message; raises python-telegram-bot's errors."""
        chat = chat_ref(dest.chat_id)
        thread = int(dest.thread_id) if dest.thread_id else None
        paid_send = (self.paid if paid is None else paid) or None  # None: leave it out
        if msg.photo is not None:
            return await self.bot.send_photo(
                chat, photo_ref(msg.photo), caption=msg.html, parse_mode=ParseMode.HTML,
                message_thread_id=thread, disable_notification=silent,
                allow_paid_broadcast=paid_send,
            )  # fmt: skip
        return await self.bot.send_message(
            chat, msg.html, parse_mode=ParseMode.HTML, message_thread_id=thread,
            disable_notification=silent, link_preview_options=preview(msg),
            allow_paid_broadcast=paid_send,
        )  # fmt: skip

    async def send(
        self,
        dest: Destination,
        messages: tuple[TelegramMessage, ...],
        silent: bool,
        done: list[str],
        pace: Pace = no_pace,
    ) -> tuple[str, ...]:
        """The parts after the `done` ones, each at its `pace`; `done` grows as parts go out.

        On a failure the error is raised and `done` holds every part delivered so far.
        """
        for msg in messages[len(done) :]:
            await pace()
            done.append(str((await self.send_one(dest, msg, silent)).message_id))
        return tuple(done)

    async def edit_one(self, dest: Destination, message_id: str, msg: TelegramMessage) -> None:
        """Edit one part in place; "not modified" is fine. Raises python-telegram-bot's errors."""
        chat = chat_ref(dest.chat_id)
        try:
            if msg.photo is not None:
                await self.bot.edit_message_caption(
                    chat_id=chat, message_id=int(message_id), caption=msg.html,
                    parse_mode=ParseMode.HTML,
                )  # fmt: skip
            else:
                await self.bot.edit_message_text(
                    msg.html, chat_id=chat, message_id=int(message_id),
                    parse_mode=ParseMode.HTML, link_preview_options=preview(msg),
                )  # fmt: skip
        except BadRequest as exc:
            if NOT_MODIFIED not in exc.message.lower():
                raise

    async def edit(
        self,
        dest: Destination,
        messages: tuple[TelegramMessage, ...],
        message_ids: tuple[str, ...],
        silent: bool,
        pace: Pace = no_pace,
    ) -> tuple[str, ...]:
        """Edit the parts in place, send added parts, delete dropped ones."""
        shown: list[str] = []
        for i, msg in enumerate(messages):
            await pace()
            if i >= len(message_ids):
                shown.append(str((await self.send_one(dest, msg, silent)).message_id))
                continue
            try:
                await self.edit_one(dest, message_ids[i], msg)
            except BadRequest as exc:
                if not any(m in exc.message.lower() for m in _WRONG_KIND):
                    raise
                # A photo came or went: a text message cannot become a photo. Replace the copy.
                log.info("replacing copy dest=%s: %s", dest, exc.message)
                fresh = await self.send(dest, messages, silent, [], pace)
                await self.delete(dest, message_ids, quiet=True)
                return fresh
            shown.append(message_ids[i])
        await self.delete(dest, message_ids[len(messages) :])
        return tuple(shown)

    async def delete(
        self, dest: Destination, message_ids: tuple[str, ...], quiet: bool = False
    ) -> None:
        """Delete every part; a part already gone counts as deleted."""
        chat = chat_ref(dest.chat_id)
        for message_id in message_ids:
            try:
                await self.bot.delete_message(chat, int(message_id))
            except BadRequest as exc:
                if any(m in exc.message.lower() for m in _ALREADY_GONE):
                    continue
                if not quiet:
                    raise
                log.warning("could not delete dest=%s message=%s: %s", dest, message_id, exc)
            except TelegramError as exc:
                if not quiet:
                    raise
                log.warning("could not delete dest=%s message=%s: %s", dest, message_id, exc)

    # --- pins: best effort, a delivered message stays delivered -----------------------------

    async def pin(self, dest: Destination, message_id: str) -> None:
        """Pin a breaking update, unpinning the relay's previous breaking update first."""
        chat = chat_ref(dest.chat_id)
        try:
            current = (await self.bot.get_chat(chat)).pinned_message
            if current is not None and str(current.message_id) == message_id:
                return
            if current is not None and self.is_breaking(current):
                await self.bot.unpin_chat_message(chat, current.message_id)
            await self.bot.pin_chat_message(chat, int(message_id), disable_notification=True)
        except TelegramError as exc:
            log.warning("could not pin dest=%s message=%s: %s", dest, message_id, exc)

    async def unpin(self, dest: Destination, message_id: str) -> None:
        """Unpin the message if it is the chat's pinned one (an update no longer breaking)."""
        chat = chat_ref(dest.chat_id)
        try:
            current = (await self.bot.get_chat(chat)).pinned_message
            if current is not None and str(current.message_id) == message_id:
                await self.bot.unpin_chat_message(chat, current.message_id)
        except TelegramError as exc:
            log.warning("could not unpin dest=%s message=%s: %s", dest, message_id, exc)

    def is_breaking(self, message: Message) -> bool:
        """A breaking update this bot sent (in a channel the sender is the channel itself)."""
        sender = message.from_user
        ours = sender is None or sender.id == self.bot_id
        return ours and (message.text or message.caption or "").startswith(BREAKING)


FILE_URL = "https://telegram.invalid/file/"


def photo_ref(url: str) -> str:
    """What sendPhoto takes: a Telegram file id for a photo uploaded to Telegram, else the URL."""
    return url.removeprefix(FILE_URL) if url.startswith(FILE_URL) else url


def preview(msg: TelegramMessage) -> LinkPreviewOptions:
    if msg.preview_url is None:
        return LinkPreviewOptions(is_disabled=True)
    return LinkPreviewOptions(url=msg.preview_url)
