"""Sending, editing, deleting and pinning rendered messages, with Telegram's errors translated.

Errors (python-telegram-bot's → the relay's): `RetryAfter` → `LimitUnnamed(retry_after)` (a
`RateLimited` that names no limit: Telegram never says which);
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

Edits are decided from what the ledger knows: each id says whether its part is a photo and
which picture it shows (`Part`). A new picture is put in place with editMessageMedia, a new
caption alone with editMessageCaption; a photo that comes or goes replaces the copy (the new
parts sent, then the old ones deleted). An edit that fails part way leaves in `now` the ids the
copy has at that moment (parts added, a picture changed, a copy replaced): the relay records
them, and the retry edits from there.
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBUserWarning

from relay.adapter import Pace, no_pace
from relay.adapters.telegram.photos import FILE_URL as FILE_URL
from relay.adapters.telegram.photos import Photos, media_photo
from relay.adapters.telegram.photos import photo_ref as photo_ref
from relay.adapters.telegram.render import TelegramMessage
from relay.errors import DeliveryError, Gone, LimitUnnamed, Moved, Rejected, Transient
from relay.model import Destination

log = logging.getLogger(__name__)

NOT_MODIFIED = "message is not modified"
# 400s that mean the chat is closed to the bot for good: unsubscribe rather than dead-letter.
_GONE_400 = ("chat not found", "need administrator rights", "not enough rights to send")
_WRONG_KIND = ("there is no text in the message to edit", "there is no caption in the message")
_ALREADY_GONE = ("message to delete not found",)
# `Bot.do_api_request` asks to use the bot's method for an endpoint PTB knows; `Delivery.call`
# means to skip that method's building of a full `Message` from the answer.
warnings.filterwarnings("ignore", "Please use 'Bot.", PTBUserWarning)


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
        return LimitUnnamed(retry_seconds(exc), budget_key=budget_key, **context)
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


_PART_ID = re.compile(r"([0-9]+)(?::(photo):([0-9a-f]*))?")


def picture_tag(url: str) -> str:
    """A short name for the picture at `url`: an edit compares it to know if the photo changed."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True)
class Part:
    """One part of a copy, as its id says: "123" is a text message, "123:photo:<tag>" a photo
    showing the picture `tag` names (`picture_tag`).

    The ledger keeps these strings, so an edit knows each part's kind and picture without asking
    Telegram. Plain digits recorded before photo parts were marked may be a photo too: the edit
    of such a copy learns it from Telegram's answer and replaces the copy.
    """

    message_id: int
    photo: bool = False
    tag: str = ""

    @classmethod
    def parse(cls, text: str) -> Part:
        match = _PART_ID.fullmatch(text)
        if match is None:
            raise ValueError(f"not a Telegram message id: {text!r}")
        number, kind, tag = match.groups()
        return cls(int(number), kind is not None, tag or "")

    @classmethod
    def of(cls, message_id: int, msg: TelegramMessage) -> Part:
        """The part `msg` became once Telegram gave it `message_id`."""
        if msg.photo is None:
            return cls(message_id)
        return cls(message_id, True, picture_tag(msg.photo))

    def __str__(self) -> str:
        return f"{self.message_id}:photo:{self.tag}" if self.photo else str(self.message_id)


def message_number(message_id: str) -> int:
    """The Telegram message id in one of our part ids."""
    return Part.parse(message_id).message_id


class Delivery:
    """One bot's send/edit/delete of rendered messages to one destination at a time."""

    def __init__(self, bot: Bot, bot_id: int, paid_broadcast: bool = False) -> None:
        self.bot = bot
        self.bot_id = bot_id
        self.paid = paid_broadcast
        self.photos = Photos()  # file ids are this bot's own

    async def send_one(
        self, dest: Destination, msg: TelegramMessage, silent: bool, paid: bool | None = None
    ) -> int:
        """One message; its message id. Raises python-telegram-bot's errors."""
        paid_send = (self.paid if paid is None else paid) or None  # None: leave it out
        common = {"chat_id": chat_ref(dest.chat_id), "disable_notification": silent,
                  "message_thread_id": int(dest.thread_id) if dest.thread_id else None,
                  "parse_mode": ParseMode.HTML, "allow_paid_broadcast": paid_send}  # fmt: skip
        if msg.photo is not None:

            async def send_photo(photo: Any) -> Any:
                return await self.call("sendPhoto", photo=photo, caption=msg.html, **common)

            sent = await self.photos.send(msg.photo, send_photo)
        else:
            sent = await self.call("sendMessage", text=msg.html, link_preview_options=preview(msg),
                                   **common)  # fmt: skip
        return int(sent["message_id"])

    async def call(self, endpoint: str, **params: Any) -> Any:
        """A Bot API call whose answer is read as JSON, not built into PTB's objects (a send
        only needs the message id). Errors are PTB's own, as its bot methods raise them."""
        kwargs = {k: v for k, v in params.items() if v is not None}
        return await self.bot.do_api_request(endpoint, api_kwargs=kwargs)

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
            done.append(str(Part.of(await self.send_one(dest, msg, silent), msg)))
        return tuple(done)

    async def edit_one(self, dest: Destination, part: Part, msg: TelegramMessage) -> Part:
        """Make one part show `msg` in place: its text, its caption, or its picture and caption
        (editMessageMedia) when the picture changed. "Not modified" is fine. Raises
        python-telegram-bot's errors."""
        chat = chat_ref(dest.chat_id)
        new = Part.of(part.message_id, msg)
        try:
            if msg.photo is None:
                await self.call(
                    "editMessageText", chat_id=chat, message_id=part.message_id, text=msg.html,
                    parse_mode=ParseMode.HTML, link_preview_options=preview(msg),
                )  # fmt: skip
            elif new.tag == part.tag:  # the same picture: only the caption may have changed
                await self.call(
                    "editMessageCaption", chat_id=chat, message_id=part.message_id,
                    caption=msg.html, parse_mode=ParseMode.HTML,
                )  # fmt: skip
            else:

                async def edit_media(photo: Any) -> Any:
                    media = media_photo(photo, caption=msg.html, parse_mode=ParseMode.HTML)
                    return await self.call("editMessageMedia", chat_id=chat,
                                           message_id=part.message_id, media=media)  # fmt: skip

                await self.photos.send(msg.photo, edit_media)
        except BadRequest as exc:
            if NOT_MODIFIED not in exc.message.lower():
                raise
        return new

    async def edit(
        self,
        dest: Destination,
        messages: tuple[TelegramMessage, ...],
        message_ids: tuple[str, ...],
        silent: bool,
        now: list[str],
        pace: Pace = no_pace,
    ) -> tuple[str, ...]:
        """Edit the parts in place, send added parts, delete dropped ones. A photo added to a
        text copy goes in place too (editMessageMedia takes a text message since Bot API 9.x);
        a photo removed replaces the copy, as no edit turns a photo into text. `now` holds the
        ids the copy has at every step, so after a failure it tells what the copy became."""
        now[:] = message_ids
        old = [Part.parse(i) for i in message_ids]
        if old and old[0].photo and not messages[0].is_photo:
            return await self.replace(dest, messages, message_ids, silent, now, pace)
        for i, msg in enumerate(messages):
            await pace()
            if i >= len(old):
                now.append(str(Part.of(await self.send_one(dest, msg, silent), msg)))
                continue
            try:
                now[i] = str(await self.edit_one(dest, old[i], msg))
            except BadRequest as exc:
                if i or not any(m in exc.message.lower() for m in _WRONG_KIND):
                    raise
                # Recorded before photo parts were marked, the first part is a photo after all.
                log.info("replacing an unmarked copy dest=%s: %s", dest, exc.message)
                return await self.replace(dest, messages, message_ids, silent, now, pace)
        for dropped in now[len(messages) :]:
            await self.delete(dest, (dropped,))
            now.remove(dropped)
        return tuple(now)

    async def replace(
        self,
        dest: Destination,
        messages: tuple[TelegramMessage, ...],
        old_ids: tuple[str, ...],
        silent: bool,
        now: list[str],
        pace: Pace = no_pace,
    ) -> tuple[str, ...]:
        """The photo went: send the new copy's parts, then delete the old copy.

        Cut short, the old copy is deleted all the same and `now` holds the new parts sent: the
        retry edits those and sends the rest, so no part a reader saw comes back twice.
        """
        fresh: list[str] = []
        try:
            await self.send(dest, messages, silent, fresh, pace)
        except TelegramError:
            if fresh:
                await self.delete(dest, old_ids, quiet=True)
                now[:] = fresh
            raise
        await self.delete(dest, old_ids, quiet=True)
        now[:] = fresh
        return tuple(fresh)

    async def delete(
        self, dest: Destination, message_ids: tuple[str, ...], quiet: bool = False
    ) -> None:
        """Delete every part; a part already gone counts as deleted."""
        chat = chat_ref(dest.chat_id)
        for message_id in message_ids:
            try:
                await self.call(
                    "deleteMessage", chat_id=chat, message_id=message_number(message_id)
                )
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

    async def pin(self, dest: Destination, message_id: str, label: str) -> None:
        """Pin a breaking update, unpinning the relay's previous breaking update (marked with
        the topic's breaking `label`) first."""
        chat = chat_ref(dest.chat_id)
        try:
            current = (await self.bot.get_chat(chat)).pinned_message
            number = message_number(message_id)
            if current is not None and current.message_id == number:
                return
            if current is not None and self.is_breaking(current, label):
                await self.bot.unpin_chat_message(chat, current.message_id)
            await self.bot.pin_chat_message(chat, number, disable_notification=True)
        except TelegramError as exc:
            log.warning("could not pin dest=%s message=%s: %s", dest, message_id, exc)

    async def unpin(self, dest: Destination, message_id: str) -> None:
        """Unpin the message if it is the chat's pinned one (an update no longer breaking)."""
        chat = chat_ref(dest.chat_id)
        try:
            current = (await self.bot.get_chat(chat)).pinned_message
            if current is not None and current.message_id == message_number(message_id):
                await self.bot.unpin_chat_message(chat, current.message_id)
        except TelegramError as exc:
            log.warning("could not unpin dest=%s message=%s: %s", dest, message_id, exc)

    def is_breaking(self, message: Message, label: str) -> bool:
        """A breaking update this bot sent (in a channel the sender is the channel itself): its
        first line is the breaking `label`, or its second after a topic's header line."""
        sender = message.from_user
        ours = sender is None or sender.id == self.bot_id
        return ours and label in (message.text or message.caption or "").split("\n", 2)[:2]


def preview(msg: TelegramMessage) -> LinkPreviewOptions:
    if msg.preview_url is None:
        return LinkPreviewOptions(is_disabled=True)
    return LinkPreviewOptions(url=msg.preview_url)
