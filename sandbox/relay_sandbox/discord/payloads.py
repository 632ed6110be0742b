"""JSON shapes of the emulator's objects, as Discord's API and gateway send them."""

from __future__ import annotations

import datetime
from typing import Any

from relay_sandbox.discord.state import (
    THREAD_TYPES,
    Application,
    Channel,
    Guild,
    Member,
    Message,
    Role,
    User,
    World,
)


def iso(ts: float | None) -> str | None:
    """An ISO 8601 timestamp like Discord's, or None."""
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat()


def user(u: User) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(u.id),
        "username": u.username,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": None,
        "public_flags": 0,
    }
    if u.bot:
        data["bot"] = True
    return data


def role(r: Role) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "name": r.name,
        "color": 0,
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": r.position,
        "permissions": str(r.permissions),
        "managed": False,
        "mentionable": r.mentionable,
        "flags": 0,
    }


def member(world: World, m: Member, *, permissions: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "user": user(world.users[m.user_id]),
        "nick": m.nick,
        "avatar": None,
        "roles": [str(r) for r in m.roles],
        "joined_at": iso(m.joined_at),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
    }
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def channel(c: Channel) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(c.id),
        "type": c.type,
        "guild_id": str(c.guild_id),
        "name": c.name,
        "position": c.position,
        "parent_id": None if c.parent_id is None else str(c.parent_id),
        "nsfw": False,
        "rate_limit_per_user": 0,
        "permission_overwrites": [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in c.overwrites
        ],
    }
    if c.type in THREAD_TYPES:
        data.update(
            owner_id=str(c.owner_id or 0),
            message_count=0,
            member_count=1,
            total_message_sent=0,
            flags=0,
            thread_metadata={
                "archived": c.archived,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso(0.0),
                "locked": False,
            },
        )
        del data["permission_overwrites"]
        del data["position"]
    else:
        data["topic"] = c.topic
    return data


def guild_create(world: World, g: Guild) -> dict[str, Any]:
    """A full GUILD_CREATE payload: channels, threads, roles and every member."""
    chans = [world.channels[c] for c in g.channel_ids if c in world.channels]
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "owner_id": str(g.owner_id),
        "unavailable": False,
        "member_count": len(g.members),
        "large": False,
        "features": [],
        "roles": [role(r) for r in g.roles.values()],
        "emojis": [],
        "stickers": [],
        "members": [member(world, m) for m in g.members.values()],
        "channels": [channel(c) for c in chans if c.type not in THREAD_TYPES],
        "threads": [channel(c) for c in chans if c.type in THREAD_TYPES],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "joined_at": iso(g.members[min(g.members)].joined_at) if g.members else None,
        "preferred_locale": "en-US",
        "premium_tier": 0,
        "system_channel_flags": 0,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
    }


def application(world: World, app: Application) -> dict[str, Any]:
    return {
        "id": str(app.id),
        "name": app.name,
        "icon": None,
        "description": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user(world.users[app.owner_id]),
        "verify_key": app.public_key,
        "flags": app.flags,
        "bot": user(world.users[app.bot_user_id]),
        "team": None,
        "summary": "",
    }


def message(world: World, m: Message) -> dict[str, Any]:
    author = world.users.get(m.author_id)
    if author is None:  # a webhook: its author is a pseudo-user with the webhook's id
        author = User(m.author_id, m.webhook_name or "webhook", bot=True)
    author_data = user(author)
    if m.webhook_name is not None:
        author_data["username"] = m.webhook_name
    data: dict[str, Any] = {
        "id": str(m.id),
        "channel_id": str(m.channel_id),
        "guild_id": str(m.guild_id),
        "type": 0 if m.interaction_id is None else 20,
        "author": author_data,
        "content": m.content,
        "timestamp": iso(m.created_at),
        "edited_timestamp": iso(m.edited_at),
        "tts": False,
        "mention_everyone": m.mention_everyone,
        "mentions": [user(world.users[u]) for u in m.mention_users if u in world.users],
        "mention_roles": [str(r) for r in m.mention_roles],
        "attachments": m.attachments,
        "embeds": m.embeds,
        "pinned": False,
        "flags": m.flags,
        "components": m.components,
    }
    if m.nonce is not None:
        data["nonce"] = m.nonce
    if m.webhook_id is not None:
        data["webhook_id"] = str(m.webhook_id)
    if m.application_id is not None:
        data["application_id"] = str(m.application_id)
    return data
