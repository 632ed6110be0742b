"""Creating, editing, deleting and crossposting messages, with mentions resolved as Discord does."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from relay_sandbox.discord.state import CROSSPOSTED, Channel, Message, World
from relay_sandbox.discord.transcript import EventBus, EventKind, TranscriptEvent, view

_USER = re.compile(r"<@!?(\d{1,20})>")
_ROLE = re.compile(r"<@&(\d{1,20})>")
_EVERYONE = re.compile(r"@(everyone|here)")

ALL_PARSE = ("users", "roles", "everyone")
# DDOCS message.mdx "Allowed Mentions": interactions and webhooks default to users only.
WEBHOOK_PARSE = ("users",)
NONCE_WINDOW = 120.0  # "within the past few minutes" (DDOCS Create Message, enforce_nonce)
SUPPRESS_EMBEDS = 1 << 2

Notify = Callable[[str, Message], None]


class MessageOps:
    """Message operations shared by REST, webhooks and interaction responses."""

    def __init__(self, world: World, bus: EventBus, notify: Notify) -> None:
        self.world = world
        self.bus = bus
        self.notify = notify  # gateway: ("MESSAGE_CREATE"|..., message)
        self._nonces: dict[tuple[int, int, str | int], Message] = {}

    def _emit(self, kind: EventKind, m: Message) -> None:
        self.bus.publish(TranscriptEvent(kind, m.channel_id, view(self.world, m)))

    def resolve_mentions(
        self,
        m: Message,
        allowed: Any,
        *,
        default_parse: Sequence[str],
        can_mention_everyone: bool,
    ) -> None:
        """Fill who would actually be pinged, applying allowed_mentions."""
        if isinstance(allowed, dict):
            parse = list(allowed.get("parse") or [])
            users = {int(u) for u in allowed.get("users") or []}
            roles = {int(r) for r in allowed.get("roles") or []}
        else:
            parse, users, roles = list(default_parse), set(), set()
        guild = self.world.guilds.get(m.guild_id)
        mentioned_users = [int(x) for x in _USER.findall(m.content)]
        m.mention_users = list(
            dict.fromkeys(
                u
                for u in mentioned_users
                if u in self.world.users and ("users" in parse or u in users)
            )
        )
        role_ids = [int(x) for x in _ROLE.findall(m.content)]
        m.mention_roles = list(
            dict.fromkeys(
                r
                for r in role_ids
                if guild is not None
                and r in guild.roles
                and ("roles" in parse or r in roles)
                and (guild.roles[r].mentionable or can_mention_everyone)
            )
        )
        m.mention_everyone = bool(
            _EVERYONE.search(m.content) and "everyone" in parse and can_mention_everyone
        )

    def find_by_nonce(self, channel_id: int, author_id: int, nonce: str | int) -> Message | None:
        m = self._nonces.get((channel_id, author_id, nonce))
        if m is None or m.deleted or self.world.clock() - m.created_at > NONCE_WINDOW:
            return None
        return m

    def create(
        self,
        channel: Channel,
        author_id: int,
        body: dict[str, Any],
        *,
        default_parse: Sequence[str] = ALL_PARSE,
        can_mention_everyone: bool = False,
        webhook_id: int | None = None,
        webhook_name: str | None = None,
        application_id: int | None = None,
        interaction_id: int | None = None,
        flags: int = 0,
        attachments: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Store a new message and announce it."""
        m = Message(
            id=self.world.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=author_id,
            content=body.get("content") or "",
            embeds=[_normalise_embed(e) for e in body.get("embeds") or []],
            created_at=self.world.clock(),
            nonce=body.get("nonce"),
            flags=flags | (int(body.get("flags") or 0) & SUPPRESS_EMBEDS),
            webhook_id=webhook_id,
            webhook_name=webhook_name,
            application_id=application_id,
            interaction_id=interaction_id,
            attachments=attachments or [],
            components=list(body.get("components") or []),
        )
        self.resolve_mentions(
            m,
            body.get("allowed_mentions"),
            default_parse=default_parse,
            can_mention_everyone=can_mention_everyone,
        )
        self.world.channel_messages(channel.id)[m.id] = m
        if m.nonce is not None:
            self._nonces[(channel.id, author_id, m.nonce)] = m
        self._emit("created", m)
        self.notify("MESSAGE_CREATE", m)
        return m

    def edit(
        self,
        m: Message,
        body: dict[str, Any],
        *,
        default_parse: Sequence[str] = ALL_PARSE,
        can_mention_everyone: bool = False,
    ) -> Message:
        """Apply an edit: only the keys present change; mentions are re-resolved."""
        if "content" in body:
            m.content = body.get("content") or ""
        if "embeds" in body:
            m.embeds = [_normalise_embed(e) for e in body.get("embeds") or []]
        if "components" in body:
            m.components = list(body.get("components") or [])
        if body.get("flags") is not None:
            m.flags = (m.flags & ~SUPPRESS_EMBEDS) | (int(body["flags"]) & SUPPRESS_EMBEDS)
        if "attachments" in body and body["attachments"] is not None:
            keep = {str(a.get("id")) for a in body["attachments"] if isinstance(a, dict)}
            m.attachments = [a for a in m.attachments if str(a.get("id")) in keep]
        m.flags &= ~(1 << 7)  # a deferred response stops "thinking" once edited
        self.resolve_mentions(
            m,
            body.get("allowed_mentions"),
            default_parse=default_parse,
            can_mention_everyone=can_mention_everyone,
        )
        m.edited_at = self.world.clock()
        self._emit("edited", m)
        self.notify("MESSAGE_UPDATE", m)
        return m

    def delete(self, m: Message) -> None:
        m.deleted = True
        self._emit("deleted", m)
        self.notify("MESSAGE_DELETE", m)

    def crosspost(self, m: Message) -> Message:
        m.flags |= CROSSPOSTED
        self._emit("crossposted", m)
        self.notify("MESSAGE_UPDATE", m)
        return m


def _normalise_embed(e: Any) -> dict[str, Any]:
    """Store an embed as Discord returns it: type "rich", text trimmed, nulls dropped."""
    if not isinstance(e, dict):
        return {}
    out: dict[str, Any] = {"type": "rich"}
    for k, v in e.items():
        if v is None:
            continue
        out[k] = v.strip() if isinstance(v, str) and k in ("title", "description") else v
    return out
