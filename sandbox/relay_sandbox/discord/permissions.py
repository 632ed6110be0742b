"""Discord permission bits and the permission computation of the documented algorithm."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_TTS_MESSAGES = 1 << 12
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
MANAGE_ROLES = 1 << 28
MANAGE_WEBHOOKS = 1 << 29
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38

# The spec's maximum for a permission integer (DSPEC default_member_permissions): every bit set.
ALL = 18014398509481983

# What @everyone gets in a new guild, close to Discord's default role.
DEFAULT_EVERYONE = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | CREATE_PRIVATE_THREADS
    | SEND_MESSAGES_IN_THREADS
)

ROLE_OVERWRITE = 0
MEMBER_OVERWRITE = 1

# Denied implicitly when SEND_MESSAGES is missing (DDOCS "Implicit Permissions").
_NEEDS_SEND = MENTION_EVERYONE | SEND_TTS_MESSAGES | ATTACH_FILES | EMBED_LINKS


@dataclass(frozen=True)
class Overwrite:
    """A channel permission overwrite for a role (type 0) or a member (type 1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


def base_permissions(
    *,
    guild_id: int,
    owner_id: int,
    member_id: int,
    member_roles: Iterable[int],
    role_permissions: Mapping[int, int],
) -> int:
    """Guild-level permissions: owner → all; @everyone | roles; ADMINISTRATOR → all."""
    if member_id == owner_id:
        return ALL
    perms = role_permissions.get(guild_id, 0)  # the @everyone role has the guild's id
    for role_id in member_roles:
        perms |= role_permissions.get(role_id, 0)
    if perms & ADMINISTRATOR:
        return ALL
    return perms


def channel_permissions(
    base: int,
    *,
    guild_id: int,
    member_id: int,
    member_roles: Iterable[int],
    overwrites: Iterable[Overwrite],
) -> int:
    """Apply overwrites in Discord's order: @everyone, then all roles together, then the member."""
    if base & ADMINISTRATOR or base == ALL:
        return ALL
    by_key = {(o.type, o.id): o for o in overwrites}
    perms = base
    everyone = by_key.get((ROLE_OVERWRITE, guild_id))
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role_id in member_roles:
        ow = by_key.get((ROLE_OVERWRITE, role_id))
        if ow is not None:
            allow |= ow.allow
            deny |= ow.deny
    perms = (perms & ~deny) | allow
    member = by_key.get((MEMBER_OVERWRITE, member_id))
    if member is not None:
        perms = (perms & ~member.deny) | member.allow
    return implicit(perms)


def implicit(perms: int) -> int:
    """Apply Discord's implicit denials: no VIEW_CHANNEL → nothing; no SEND → no embeds etc."""
    if not perms & VIEW_CHANNEL:
        return 0
    if not perms & SEND_MESSAGES:
        perms &= ~_NEEDS_SEND
    return perms
