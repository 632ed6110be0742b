"""What a reader would see: frozen message views, transcript events and the request log."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from relay_sandbox.discord.state import EPHEMERAL, Message, World

EventKind = Literal["created", "edited", "deleted", "crossposted"]


@dataclass(frozen=True)
class MessageView:
    """A message as displayed: content, embeds (JSON text), who it pings, edit/delete marks."""

    id: int
    channel_id: int
    guild_id: int
    author_id: int
    author_name: str
    content: str
    embeds_json: str
    pinged_users: tuple[int, ...]
    pinged_roles: tuple[int, ...]
    pings_everyone: bool
    nonce: str | int | None
    created_at: float
    edited_at: float | None
    deleted: bool
    crossposted: bool
    ephemeral: bool
    webhook_id: int | None
    interaction_id: int | None
    shown: str = ""  # the content as a reader sees it: role mentions as @name or @deleted-role
    components_json: str = "[]"  # action rows (buttons, select menus), as JSON text

    @property
    def components(self) -> list[dict[str, Any]]:
        """The message's action rows as JSON objects."""
        value: list[dict[str, Any]] = json.loads(self.components_json)
        return value

    attachments: tuple[str, ...] = ()  # the file names of the message's attachments

    @property
    def embeds(self) -> list[dict[str, Any]]:
        """The embeds as JSON objects (kept as text so the view stays immutable)."""
        value: list[dict[str, Any]] = json.loads(self.embeds_json)
        return value


_ROLE = re.compile(r"<@&(\d{1,20})>")


def shown_content(world: World, m: Message) -> str:
    """The content as Discord's client shows it: a role of the message's guild as `@name`, any
    other role (another guild's, a deleted one) as `@deleted-role`, which pings no one."""
    guild = world.guilds.get(m.guild_id)

    def role(match: re.Match[str]) -> str:
        found = guild.roles.get(int(match.group(1))) if guild is not None else None
        return f"@{found.name}" if found is not None else "@deleted-role"

    return _ROLE.sub(role, m.content)


def view(world: World, m: Message) -> MessageView:
    """Freeze a stored message into what a reader sees."""
    author = world.users.get(m.author_id)
    name = m.webhook_name or (author.username if author else str(m.author_id))
    return MessageView(
        id=m.id,
        channel_id=m.channel_id,
        guild_id=m.guild_id,
        author_id=m.author_id,
        author_name=name,
        content=m.content,
        embeds_json=json.dumps(m.embeds, sort_keys=True),
        pinged_users=tuple(m.mention_users),
        pinged_roles=tuple(m.mention_roles),
        pings_everyone=m.mention_everyone,
        nonce=m.nonce,
        created_at=m.created_at,
        edited_at=m.edited_at,
        deleted=m.deleted,
        crossposted=bool(m.flags & 1),
        ephemeral=bool(m.flags & EPHEMERAL),
        webhook_id=m.webhook_id,
        interaction_id=m.interaction_id,
        shown=shown_content(world, m),
        components_json=json.dumps(m.components, sort_keys=True),
        attachments=tuple(str(a.get("filename", "")) for a in m.attachments),
    )


@dataclass(frozen=True)
class TranscriptEvent:
    """One change a reader would notice in a channel."""

    kind: EventKind
    channel_id: int
    message: MessageView


@dataclass(frozen=True)
class RequestRecord:
    """One REST request the emulator answered."""

    at: float
    method: str
    path: str
    endpoint: str | None
    status: int
    code: int | None
    bot_id: int | None
    body: Any = None
    files: tuple[str, ...] = ()  # the file names a multipart request uploaded


class EventBus:
    """Fans transcript events out to every `events()` subscriber."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[TranscriptEvent | None]] = []

    def publish(self, event: TranscriptEvent) -> None:
        for q in self._queues:
            q.put_nowait(event)

    def close(self) -> None:
        for q in self._queues:
            q.put_nowait(None)

    async def events(self) -> AsyncIterator[TranscriptEvent]:
        """Every event from now on, until the sandbox closes."""
        q: asyncio.Queue[TranscriptEvent | None] = asyncio.Queue()
        self._queues.append(q)
        try:
            while True:
                item = await q.get()
                if item is None:
                    return
                yield item
        finally:
            self._queues.remove(q)
