"""The emulator's in-memory world: applications, users, guilds, channels, messages, interactions."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from relay_sandbox.discord import permissions as P

DISCORD_EPOCH_MS = 1420070400000

TEXT, ANNOUNCEMENT, ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD, FORUM = 0, 5, 10, 11, 12, 15
THREAD_TYPES = frozenset({ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})
MESSAGEABLE_TYPES = frozenset({TEXT, ANNOUNCEMENT}) | THREAD_TYPES

# Application flags (DDOCS application.mdx): the privileged-intent switches of the bot page.
GATEWAY_PRESENCE = 1 << 12
GATEWAY_GUILD_MEMBERS = 1 << 14
GATEWAY_MESSAGE_CONTENT = 1 << 18

EPHEMERAL = 1 << 6
LOADING = 1 << 7
CROSSPOSTED = 1 << 0


class Snowflakes:
    """Generates real-looking snowflakes (timestamp in the high bits) so clients can age them."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        # strictly increasing even past 4096 ids in one millisecond (never a duplicate id)
        self._last = max((ms << 22) | (1 << 17), self._last + 1)
        return self._last


@dataclass
class User:
    """A Discord user (a bot user or a person)."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None


@dataclass
class Application:
    """An application with its bot user and token."""

    id: int
    name: str
    bot_user_id: int
    token: str
    owner_id: int
    flags: int = 0
    public_key: str = field(default_factory=lambda: secrets.token_hex(32))


@dataclass
class Role:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    mentionable: bool = False


@dataclass
class Member:
    """A user's membership of a guild."""

    user_id: int
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: float = field(default_factory=time.time)


@dataclass
class Channel:
    """A guild channel or thread."""

    id: int
    guild_id: int
    type: int
    name: str
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    overwrites: list[P.Overwrite] = field(default_factory=list)
    owner_id: int | None = None  # threads only
    archived: bool = False


@dataclass
class Guild:
    """A guild with its roles, members and channel ids."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)


@dataclass
class Message:
    """A message as Discord stores it, with the mentions that would ping applied."""

    id: int
    channel_id: int
    guild_id: int
    author_id: int
    content: str
    embeds: list[dict[str, Any]]
    created_at: float
    mention_users: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    nonce: str | int | None = None
    edited_at: float | None = None
    deleted: bool = False
    flags: int = 0
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_id: int | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    webhook_name: str | None = None
    components: list[dict[str, Any]] = field(default_factory=list)  # action rows, as sent


@dataclass
class Command:
    """A registered application command (global when guild_id is None)."""

    id: int
    application_id: int
    guild_id: int | None
    name: str
    type: int
    payload: dict[str, Any]
    version: int


@dataclass
class Webhook:
    """An incoming webhook of a channel."""

    id: int
    token: str
    channel_id: int
    guild_id: int
    name: str


@dataclass
class Interaction:
    """An interaction the sandbox dispatched and what the application answered."""

    id: int
    token: str
    application_id: int
    type: int
    guild_id: int
    channel_id: int
    user_id: int
    created_at: float
    payload: dict[str, Any]
    acknowledged: bool = False
    response_type: int | None = None
    response_data: dict[str, Any] | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class NotFoundInState(KeyError):
    """Raised by lookups of ids the sandbox does not know."""


class World:
    """Everything the emulator knows; REST, gateway and control all work on one instance."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.ids = Snowflakes()
        self.users: dict[int, User] = {}
        self.apps: dict[int, Application] = {}
        self.apps_by_token: dict[str, Application] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.deleted_channels: set[int] = set()
        self.messages: dict[int, dict[int, Message]] = {}
        self.commands: dict[int, Command] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.interactions: dict[int, Interaction] = {}
        self.interactions_by_token: dict[str, Interaction] = {}
        # Files members attached to commands, by CDN path (`attachments/<id>/<name>`), served
        # at `cdn_base` (the sandbox's own URL: Discord's is https://cdn.discordapp.com).
        self.cdn: dict[str, bytes] = {}
        self.cdn_base = ""

    # -- lookups ----------------------------------------------------------------------------

    def guild(self, guild_id: int) -> Guild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise NotFoundInState(f"unknown guild {guild_id}") from None

    def channel(self, channel_id: int) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise NotFoundInState(f"unknown channel {channel_id}") from None

    def app(self, app_id: int) -> Application:
        try:
            return self.apps[app_id]
        except KeyError:
            raise NotFoundInState(f"unknown application {app_id}") from None

    def app_for_token(self, token: str) -> Application | None:
        return self.apps_by_token.get(token)

    def guild_of_channel(self, channel: Channel) -> Guild:
        return self.guilds[channel.guild_id]

    def in_guild(self, user_id: int, guild_id: int) -> bool:
        guild = self.guilds.get(guild_id)
        return guild is not None and user_id in guild.members

    def bot_guilds(self, app: Application) -> list[Guild]:
        return [g for g in self.guilds.values() if app.bot_user_id in g.members]

    def guild_permissions(self, guild: Guild, user_id: int) -> int:
        member = guild.members.get(user_id)
        if member is None:
            return 0
        return P.base_permissions(
            guild_id=guild.id,
            owner_id=guild.owner_id,
            member_id=user_id,
            member_roles=member.roles,
            role_permissions={r.id: r.permissions for r in guild.roles.values()},
        )

    def permissions_in(self, channel: Channel, user_id: int) -> int:
        """Permissions of a member in a channel; threads inherit their parent's overwrites."""
        guild = self.guilds[channel.guild_id]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        base = self.guild_permissions(guild, user_id)
        source = channel
        if channel.type in THREAD_TYPES and channel.parent_id in self.channels:
            source = self.channels[channel.parent_id]
        return P.channel_permissions(
            base,
            guild_id=guild.id,
            member_id=user_id,
            member_roles=member.roles,
            overwrites=source.overwrites,
        )

    def channel_messages(self, channel_id: int) -> dict[int, Message]:
        return self.messages.setdefault(channel_id, {})

    def new_token(self) -> str:
        return secrets.token_urlsafe(48)
