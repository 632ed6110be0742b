"""The sandbox engine: world, update queues, events, limits, faults and the request log."""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from relay_sandbox.telegram.events import EventHub, EventKind, SandboxEvent
from relay_sandbox.telegram.faults import Faults
from relay_sandbox.telegram.limits import Clock, FloodLimiter, TelegramLimits
from relay_sandbox.telegram.records import Bot, Chat, Message
from relay_sandbox.telegram.render import displayed, message_to_api
from relay_sandbox.telegram.state import World
from relay_sandbox.telegram.updates import UpdateQueue
from relay_sandbox.telegram.webhooks import WebhookSender


@dataclass(frozen=True)
class RequestRecord:
    """One Bot API request as the sandbox answered it."""

    method: str
    bot_id: int | None
    params: dict[str, Any]
    status: int
    description: str | None
    at: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "method": self.method,
            "bot_id": self.bot_id,
            "params": self.params,
            "status": self.status,
            "description": self.description,
            "at": self.at,
        }


class Engine:
    """State shared by the Bot API handlers and the control API."""

    def __init__(
        self,
        *,
        limits: TelegramLimits | None = None,
        clock: Clock = time.monotonic,
        seed: int | None = 0,
        strict: bool = True,
        request_log_size: int = 100_000,
    ) -> None:
        self.world = World()
        self.hub = EventHub()
        self.limiter = FloodLimiter(limits, clock)
        self.faults = Faults(seed)
        self.clock = clock
        self.strict = strict
        self.requests: deque[RequestRecord] = deque(maxlen=request_log_size)
        self.callback_queries: dict[str, int] = {}  # query id -> bot id
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.query_ids = itertools.count(1)
        self._queues: dict[int, UpdateQueue] = {}
        self.webhooks: dict[int, WebhookSender] = {}
        self._media_groups = 0

    def queue(self, bot_id: int) -> UpdateQueue:
        """The bot's update queue."""
        if bot_id not in self._queues:
            self._queues[bot_id] = UpdateQueue()
        return self._queues[bot_id]

    def close(self) -> None:
        """Release long polls and end event streams."""
        for q in self._queues.values():
            q.close()
        self.hub.close()

    async def aclose(self) -> None:
        """``close``, then stop webhook delivery."""
        self.close()
        for sender in list(self.webhooks.values()):
            await sender.stop()
        self.webhooks.clear()

    @staticmethod
    def date() -> int:
        """Message dates are unix time, as in Telegram."""
        return int(time.time())

    def media_group_id(self) -> str:
        """A fresh album id."""
        self._media_groups += 1
        return f"1{self._media_groups:017d}"

    def emit(self, kind: EventKind, msg: Message) -> None:
        """Publish a transcript event."""
        if not self.hub.listening:
            return
        self.hub.publish(SandboxEvent(kind, msg.chat_id, displayed(self.world, msg), self.clock()))

    def deliver(self, msg: Message, *, edited: bool = False) -> list[int]:
        """Queue the message as an update for every bot that would receive it; their ids."""
        world = self.world
        chat = world.chats[msg.chat_id]
        payload = message_to_api(world, msg)
        if chat.type == "channel":
            kind = "edited_channel_post" if edited else "channel_post"
        else:
            kind = "edited_message" if edited else "message"
        delivered = []
        for bot in self._recipients(chat, msg):
            if self.queue(bot.id).push(kind, payload) is not None:
                delivered.append(bot.id)
        return delivered

    def _recipients(self, chat: Chat, msg: Message) -> list[Bot]:
        world = self.world
        if chat.type == "private":
            if msg.dialog_bot is None or msg.sender_id == msg.dialog_bot:
                return []
            return [world.bot_by_id(msg.dialog_bot)]
        out = []
        for bot in world.bots.values():
            member = world.member(chat.id, bot.id)
            if member is None or member.status in ("left", "kicked"):
                continue
            if bot.id in (msg.sender_id, msg.posted_by):
                continue
            if chat.type == "channel":
                if member.status in ("creator", "administrator"):
                    out.append(bot)
            elif self._sees_in_group(bot, member.status, msg):
                out.append(bot)
        return out

    def _sees_in_group(self, bot: Bot, status: str, msg: Message) -> bool:
        # Privacy mode: a bot sees commands, replies to it and service messages only,
        # unless it is an admin or privacy is off (can_read_all_group_messages).
        if bot.can_read_all_group_messages or status in ("creator", "administrator"):
            return True
        if msg.service:
            return True
        text = msg.text or ""
        if text.startswith("/"):
            word = text.split()[0] if text.split() else text
            target = word.partition("@")[2]
            return not target or target.lower() == (bot.user.username or "").lower()
        if msg.reply_to is not None:
            replied = self.world.find((msg.chat_id, 0), msg.reply_to)
            return replied is not None and replied.sender_id == bot.id
        return False
