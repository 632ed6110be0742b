"""The Telegram adapter's harness: the real python-telegram-bot against the sandbox's Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, ClassVar

from relay_sandbox.telegram.formatted_text import MAX_CAPTION_LENGTH, MAX_RAW_BYTES, MAX_TEXT_LENGTH
from relay_sandbox.telegram.html import process_text
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import Bot
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapter import AdapterContext
from relay.adapters.telegram import TelegramAdapter, TelegramMessage
from relay.adapters.telegram.delivery import Part, picture_tag
from relay.config import Config
from relay.model import Destination
from tests.adapters.contract import (
    IDEMPOTENT_SEND,
    MOVED,
    RETRY_AFTER,
    Fault,
    Harness,
    Op,
    Shown,
)

# The Bot API method each operation on a text message calls.
METHODS: dict[Op, str] = {"send": "sendMessage", "edit": "editMessageText",
                          "delete": "deleteMessage"}  # fmt: skip
# A 400 Telegram really gives for each method, and the reason python-telegram-bot makes of it.
REFUSALS: dict[Op, tuple[str, str]] = {
    "send": ("Bad Request: message text is empty", "Message text is empty"),
    "edit": ("Bad Request: message can't be edited", "Message can't be edited"),
    "delete": ("Bad Request: message can't be deleted", "Message can't be deleted"),
}


def dest(chat_id: int) -> Destination:
    return Destination("telegram", str(chat_id))


class TelegramHarness(Harness):
    """Supergroups where the bot is an admin; faults scripted per Bot API method and chat."""

    name = "telegram"
    capabilities: ClassVar[frozenset[str]] = frozenset({MOVED})
    lacks: ClassVar[Mapping[str, str]] = {
        IDEMPOTENT_SEND: "the Bot API has no idempotency key; delivery is at-least-once for the "
        "message in flight (relay/adapters/telegram/delivery.py): a retry shows a second copy",
    }

    def __init__(self, tg: TelegramSandbox, bot: Bot, adapter: TelegramAdapter) -> None:
        self.tg = tg
        self.bot = bot
        self.adapter = adapter

    @classmethod
    @asynccontextmanager
    async def running(
        cls, *, make_config: Callable[..., Config], **_: Any
    ) -> AsyncIterator[TelegramHarness]:
        async with TelegramSandbox(limits=TelegramLimits.off()) as tg:
            bot = tg.control.create_bot("relay_bot", first_name="Newsroom")
            base = make_config()
            config = replace(base, telegram=replace(base.telegram, enabled=True, token=bot.token,
                                                    api_url=tg.base_url))  # fmt: skip
            adapter = TelegramAdapter(config, poll_timeout=1.0, progress_interval=0.05)
            await adapter.start(AdapterContext())
            try:
                yield cls(tg, bot, adapter)
            finally:
                await adapter.aclose()

    def _chat(self, kind: str = "supergroup") -> int:
        owner = self.tg.control.create_user("Olga")
        chat = self.tg.control.create_chat(kind, "Desk", creator=owner.id)  # type: ignore[arg-type]
        self.tg.control.add_bot(chat.id, self.bot)
        return chat.id

    async def destination(self) -> Destination:
        return dest(self._chat())

    async def gone(self) -> list[tuple[str, Destination]]:
        c = self.tg.control
        reader = c.create_user("Ann")
        c.send_message(reader.id, "hi", bot=self.bot)  # started the bot, then blocked it
        c.block(reader.id, self.bot)
        kicked, deleted = self._chat(), self._chat()
        c.kick_bot(kicked, self.bot)
        c.delete_chat(deleted)  # a 400 "chat not found", not a 403
        return [("blocked", dest(reader.id)), ("kicked", dest(kicked)), ("deleted", dest(deleted))]

    async def moved(self) -> tuple[Destination, Destination]:
        group = self._chat("group")
        return dest(group), dest(self.tg.control.migrate(group).id)

    def inject(self, fault: Fault, op: Op, dest: Destination) -> None:
        faults, method, chat = self.tg.control.faults, METHODS[op], int(dest.chat_id)
        if fault == "rate_limited":
            error = (429, f"Too Many Requests: retry after {RETRY_AFTER:g}")
            faults.fail_next(method, chat_id=chat, error=error)
        elif fault == "rejected":
            faults.fail_next(method, chat_id=chat, error=(400, REFUSALS[op][0]))
        elif fault == "server_error":
            faults.fail_next(method, chat_id=chat)  # 502 Bad Gateway
        else:
            faults.fail_next(method, chat_id=chat, drop=True)

    def rejection(self, op: Op) -> str:
        return REFUSALS[op][1]

    def heal(self) -> None:
        self.tg.control.faults.clear()

    def lose_next_answer(self, dest: Destination) -> None:
        self.tg.control.faults.fail_next("sendMessage", chat_id=int(dest.chat_id), drop=True,
                                         after=True)  # fmt: skip

    def _ours(self, dest: Destination) -> list[Any]:
        shown = self.tg.control.transcript(int(dest.chat_id), bot=self.bot)
        return [m for m in shown if m.sender_id == self.bot.id]

    def shown(self, dest: Destination) -> list[Shown]:
        # A photo part's id names the picture it shows (relay/adapters/telegram/delivery.py).
        def part_id(m: Any) -> str:
            photo = m.photo_url is not None
            return str(Part(m.message_id, photo, picture_tag(m.photo_url) if photo else ""))

        return [Shown(part_id(m), m.content) for m in self._ours(dest)]

    def photos(self, dest: Destination) -> list[str]:
        return [m.photo_url for m in self._ours(dest) if m.photo_url is not None]

    def check_part(self, part: Any) -> None:
        assert isinstance(part, TelegramMessage)
        assert len(part.html.encode()) <= MAX_RAW_BYTES
        # Telegram's own reading of the HTML: raises what the Bot API would answer (a 400).
        text, _ = process_text(part.html, "html", caption=part.is_photo)
        assert len(text) <= (MAX_CAPTION_LENGTH if part.is_photo else MAX_TEXT_LENGTH)

    def activity(self) -> int:
        return len(self.tg.control.requests())
