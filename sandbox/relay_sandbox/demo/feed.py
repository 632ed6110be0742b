"""The page's one event stream: both sandboxes' transcripts, updates, progress and narration."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from relay_sandbox.demo.world import Pane, World
from relay_sandbox.discord import DiscordSandbox, MessageView, TranscriptEvent
from relay_sandbox.telegram.events import SandboxEvent
from relay_sandbox.telegram.render import DisplayedMessage
from relay_sandbox.telegram.server import TelegramSandbox

log = logging.getLogger(__name__)
Event = dict[str, Any]
TELEGRAM_KINDS = {"message_sent": "sent", "message_edited": "edited",
                  "message_deleted": "deleted", "message_pinned": "edited",
                  "message_unpinned": "edited"}  # fmt: skip


def _service_text(m: DisplayedMessage) -> str | None:
    if not m.service:
        return None
    if "pinned_message_id" in m.service:
        return f"{m.sender} pinned a message"
    return f"{m.sender}: " + ", ".join(sorted(m.service))


def telegram_message(m: DisplayedMessage, bot_id: int) -> dict[str, Any]:
    """A Telegram message as the page draws it (the HTML comes from the message's entities)."""
    photo = m.photo_url
    if photo is None and m.photo is not None:
        photo = f"/_sandbox/telegram/files/{m.photo}"
    return {
        "id": str(m.message_id),
        "date": m.date,
        "sender": m.sender,
        # In a private chat the person's own messages are drawn on the right.
        "outgoing": m.sender_id is not None and m.sender_id == m.chat_id,
        "from_bot": m.sender_id == bot_id,
        "html": m.html,
        "photo": photo,
        "pinned": m.pinned,
        "edited": m.edit_date is not None,
        "deleted": m.deleted,
        "silent": m.disable_notification,
        "service": _service_text(m),
    }


def discord_message(v: MessageView) -> dict[str, Any]:
    """A Discord message as the page draws it: content and embeds as Discord sent them."""
    return {
        "id": str(v.id),
        "author": v.author_name,
        "content": v.content,
        "embeds": v.embeds,
        "created_at": v.created_at,
        "edited": v.edited_at is not None,
        "deleted": v.deleted,
        "ephemeral": v.ephemeral,
        "command": v.interaction_id is not None,
    }


class Feed:
    """Fans events out to every page connected (server-sent events), and keeps a snapshot."""

    def __init__(self, world: World, telegram: TelegramSandbox, discord: DiscordSandbox | None):
        self.world = world
        self.telegram = telegram
        self.discord = discord
        self.panes: tuple[Pane, ...] = world.panes()
        self._queues: set[asyncio.Queue[Event | None]] = set()
        self.narration: deque[Event] = deque(maxlen=100)
        self._unsubscribe = telegram.control.subscribe(self._on_telegram)
        self._pump: asyncio.Task[None] | None = None
        self.closed = False

    async def start(self) -> None:
        """Begin following the Discord transcript (the Telegram one is followed already)."""
        if self.discord is not None:
            self._pump = asyncio.create_task(self._follow_discord(self.discord), name="feed")
            await asyncio.sleep(0)  # let the pump subscribe before anything is sent

    def publish(self, event: Event) -> None:
        for queue in list(self._queues):
            queue.put_nowait(event)

    def say(self, text: str) -> None:
        """A line of narration (the terminal prints it too)."""
        event = {"type": "log", "text": text, "at": time.time()}
        self.narration.append(event)
        self.publish(event)

    def listen(self) -> asyncio.Queue[Event | None]:
        """A queue of every event from now on (None: the demo is stopping)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        if self.closed:
            queue.put_nowait(None)
        self._queues.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[Event | None]) -> None:
        self._queues.discard(queue)

    def snapshot(self) -> Event:
        """Every pane with its messages now, and the narration so far."""
        tg = self.world.telegram
        panes = []
        for pane in self.panes:
            if pane.platform == "telegram":
                chat = int(pane.chat_id)
                bot = tg.bot_id if pane.kind == "private" else None
                shown = self.telegram.control.transcript(chat, bot=bot)
                messages = [telegram_message(m, tg.bot_id) for m in shown]
            else:
                assert self.discord is not None
                views = self.discord.control.transcript(int(pane.chat_id), include_deleted=False)
                messages = [discord_message(v) for v in views]
            panes.append({"key": pane.key, "platform": pane.platform, "title": pane.title,
                          "kind": pane.kind, "note": pane.note, "messages": messages})  # fmt: skip
        return {
            "type": "state",
            "panes": panes,
            "narration": list(self.narration),
        }

    def _on_telegram(self, event: SandboxEvent) -> None:
        message = telegram_message(event.message, self.world.telegram.bot_id)
        self.publish({"type": "message", "pane": f"telegram:{event.chat_id}",
                      "kind": TELEGRAM_KINDS[event.kind], "message": message})  # fmt: skip

    def _on_discord(self, event: TranscriptEvent) -> None:
        kind = "edited" if event.kind == "crossposted" else event.kind
        self.publish({"type": "message", "pane": f"discord:{event.channel_id}", "kind": kind,
                      "message": discord_message(event.message)})  # fmt: skip

    async def _follow_discord(self, discord: DiscordSandbox) -> None:
        async for event in discord.control.events():
            self._on_discord(event)

    async def aclose(self) -> None:
        """End every page's stream and stop following the sandboxes."""
        self.closed = True
        self._unsubscribe()
        for queue in list(self._queues):
            queue.put_nowait(None)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
