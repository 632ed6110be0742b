"""REST handlers for the bot-authenticated endpoints: identity, channels, messages, commands."""

from __future__ import annotations

from typing import Any

from relay_sandbox.discord import errors, payloads
from relay_sandbox.discord import permissions as P
from relay_sandbox.discord.endpoints import (
    COMMANDS_FIELDS,
    CREATE_MESSAGE_FIELDS,
    EDIT_MESSAGE_FIELDS,
    FORUM_THREAD_FIELDS,
)
from relay_sandbox.discord.gateway import GatewayHub
from relay_sandbox.discord.messages import MessageOps
from relay_sandbox.discord.routing import Call, Handler
from relay_sandbox.discord.state import (
    ANNOUNCEMENT,
    FORUM,
    MESSAGEABLE_TYPES,
    PUBLIC_THREAD,
    THREAD_TYPES,
    Application,
    Channel,
    Command,
    Message,
    World,
)
from relay_sandbox.discord.validate import is_empty_message, validate, validate_localizations


def _app(call: Call) -> Application:
    assert call.app is not None  # routing guarantees it for auth="bot"
    return call.app


def attachments_of(world: World, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attachment objects for uploaded files (served nowhere; the URL is only a label)."""
    out = []
    for f in files:
        aid = world.ids.next()
        url = f"https://cdn.discordapp.invalid/attachments/{aid}/{f['filename']}"
        out.append(
            {
                "id": str(aid),
                "filename": f["filename"],
                "size": f["size"],
                "url": url,
                "proxy_url": url,
            }
        )
    return out


class BotApi:
    """Handlers for endpoints called with `Authorization: Bot <token>`."""

    def __init__(self, world: World, ops: MessageOps, hub: GatewayHub) -> None:
        self.world = world
        self.ops = ops
        self.hub = hub

    def handlers(self) -> dict[str, Handler]:
        return {
            "get_me": self.get_me,
            "get_application": self.get_application,
            "get_gateway": self.get_gateway,
            "get_gateway_bot": self.get_gateway_bot,
            "get_channel": self.get_channel,
            "create_message": self.create_message,
            "list_messages": self.list_messages,
            "get_message": self.get_message,
            "edit_message": self.edit_message,
            "delete_message": self.delete_message,
            "crosspost_message": self.crosspost_message,
            "create_forum_post": self.create_forum_post,
            "put_global_commands": self.put_commands,
            "put_guild_commands": self.put_commands,
            "get_global_commands": self.get_commands,
            "get_guild_commands": self.get_commands,
        }

    # -- access -------------------------------------------------------------------------------

    def channel(self, call: Call) -> tuple[Channel, int]:
        """The channel and the bot's permissions in it; 10003 / 50001 like Discord."""
        cid = call.int_param("channel_id")
        ch = self.world.channels.get(cid)
        if ch is None:
            raise errors.unknown_channel()
        bot = _app(call).bot_user_id
        if not self.world.in_guild(bot, ch.guild_id):
            raise errors.missing_access()
        perms = self.world.permissions_in(ch, bot)
        if not perms & P.VIEW_CHANNEL:
            raise errors.missing_access()
        return ch, perms

    def message(self, call: Call, ch: Channel) -> Message:
        m = self.world.channel_messages(ch.id).get(call.int_param("message_id"))
        if m is None or m.deleted:
            raise errors.unknown_message()
        return m

    def _msg(self, m: Message) -> dict[str, Any]:
        return payloads.message(self.world, m)

    # -- identity -----------------------------------------------------------------------------

    async def get_me(self, call: Call) -> tuple[int, Any]:
        data = payloads.user(self.world.users[_app(call).bot_user_id])
        data.update(verified=True, mfa_enabled=False, flags=0, locale="en-US")
        return 200, data

    async def get_application(self, call: Call) -> tuple[int, Any]:
        return 200, payloads.application(self.world, _app(call))

    async def get_gateway(self, call: Call) -> tuple[int, Any]:
        return 200, {"url": self.hub.url}

    async def get_gateway_bot(self, call: Call) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 1000 - self.hub.identify_count}
        limit.update(reset_after=86_400_000, max_concurrency=1)
        return 200, {"url": self.hub.url, "shards": 1, "session_start_limit": limit}

    async def get_channel(self, call: Call) -> tuple[int, Any]:
        ch, _ = self.channel(call)
        return 200, payloads.channel(ch)

    # -- messages -----------------------------------------------------------------------------

    async def create_message(self, call: Call) -> tuple[int, Any]:
        ch, perms = self.channel(call)
        body = call.body
        validate(body, CREATE_MESSAGE_FIELDS, message=True)
        if ch.type not in MESSAGEABLE_TYPES:
            raise errors.ApiError(400, 50008, "Cannot send messages in a non-text channel")
        if is_empty_message(body, has_files=bool(call.files)):
            raise errors.empty_message()
        send = P.SEND_MESSAGES_IN_THREADS if ch.type in THREAD_TYPES else P.SEND_MESSAGES
        if not perms & send:
            raise errors.missing_permissions()
        if (body.get("embeds") and not perms & P.EMBED_LINKS) or (
            call.files and not perms & P.ATTACH_FILES
        ):
            raise errors.missing_permissions()
        bot = _app(call).bot_user_id
        nonce = body.get("nonce")
        if body.get("enforce_nonce") and nonce is not None:
            existing = self.ops.find_by_nonce(ch.id, bot, nonce)
            if existing is not None:
                return 200, self._msg(existing)
        m = self.ops.create(
            ch,
            bot,
            body,
            can_mention_everyone=bool(perms & P.MENTION_EVERYONE),
            attachments=attachments_of(self.world, call.files),
        )
        return 200, self._msg(m)

    async def list_messages(self, call: Call) -> tuple[int, Any]:
        ch, perms = self.channel(call)
        if not perms & P.READ_MESSAGE_HISTORY:
            return 200, []
        limit = max(1, min(100, int(call.query("limit") or 50)))
        before = int(call.query("before") or 0)
        after = int(call.query("after") or 0)
        found = [
            m
            for m in reversed(self.world.channel_messages(ch.id).values())
            if not m.deleted
            and not m.flags & (1 << 6)
            and (not before or m.id < before)
            and (not after or m.id > after)
        ]
        return 200, [self._msg(m) for m in found[:limit]]

    async def get_message(self, call: Call) -> tuple[int, Any]:
        ch, perms = self.channel(call)
        if not perms & P.READ_MESSAGE_HISTORY:
            raise errors.missing_access()
        return 200, self._msg(self.message(call, ch))

    async def edit_message(self, call: Call) -> tuple[int, Any]:
        ch, perms = self.channel(call)
        m = self.message(call, ch)
        validate(call.body, EDIT_MESSAGE_FIELDS, message=True)
        if m.author_id != _app(call).bot_user_id:
            raise errors.ApiError(403, 50005, "Cannot edit a message authored by another user")
        if (call.body.get("embeds") and not perms & P.EMBED_LINKS) or (
            call.files and not perms & P.ATTACH_FILES
        ):
            raise errors.missing_permissions()
        merged = {
            "content": call.body.get("content", m.content),
            "embeds": call.body.get("embeds", m.embeds),
        }
        if is_empty_message(merged, has_files=bool(m.attachments or call.files)):
            raise errors.empty_message()
        self.ops.edit(m, call.body, can_mention_everyone=bool(perms & P.MENTION_EVERYONE))
        # As on Discord: `attachments` lists the old files kept; new uploads are added to them.
        m.attachments = [*m.attachments, *attachments_of(self.world, call.files)]
        return 200, self._msg(m)

    async def delete_message(self, call: Call) -> tuple[int, Any]:
        ch, perms = self.channel(call)
        m = self.message(call, ch)
        if m.author_id != _app(call).bot_user_id and not perms & P.MANAGE_MESSAGES:
            raise errors.missing_permissions()
        self.ops.delete(m)
        return 204, None

    async def crosspost_message(self, call: Call) -> tuple[int, Any]:
        ch, perms = self.channel(call)
        m = self.message(call, ch)
        if ch.type != ANNOUNCEMENT:
            raise errors.ApiError(400, 50024, "Cannot execute action on this channel type")
        own = m.author_id == _app(call).bot_user_id
        if not perms & (P.SEND_MESSAGES if own else P.MANAGE_MESSAGES):
            raise errors.missing_permissions()
        if m.flags & 1:
            raise errors.ApiError(400, 40033, "This message has already been crossposted.")
        self.ops.crosspost(m)
        return 200, self._msg(m)

    async def create_forum_post(self, call: Call) -> tuple[int, Any]:
        """A new post (a thread with its first message) in a forum channel."""
        ch, perms = self.channel(call)
        validate(call.body, FORUM_THREAD_FIELDS, message=False)
        message = call.body["message"]
        validate(message, CREATE_MESSAGE_FIELDS, message=True, prefix=("message",))
        if ch.type != FORUM:  # threads of text channels are not emulated
            raise errors.ApiError(400, 50024, "Cannot execute action on this channel type")
        if is_empty_message(message, has_files=bool(call.files)):
            raise errors.empty_message()
        if not perms & P.SEND_MESSAGES or (message.get("embeds") and not perms & P.EMBED_LINKS):
            raise errors.missing_permissions()
        bot = _app(call).bot_user_id
        post = Channel(self.world.ids.next(), ch.guild_id, PUBLIC_THREAD, call.body["name"])
        post.parent_id, post.owner_id = ch.id, bot
        self.world.channels[post.id] = post
        self.world.guilds[ch.guild_id].channel_ids.append(post.id)
        self.hub.dispatch_guild(ch.guild_id, "THREAD_CREATE", payloads.channel(post))
        m = self.ops.create(
            post, bot, message, can_mention_everyone=bool(perms & P.MENTION_EVERYONE)
        )
        return 201, {**payloads.channel(post), "message": self._msg(m)}

    # -- application commands ---------------------------------------------------------------

    def _command_scope(self, call: Call) -> tuple[Application, int | None]:
        app = _app(call)
        if call.int_param("application_id") != app.id:
            raise errors.ApiError(
                403, 20012, "You are not authorized to perform this action on this application"
            )
        guild_id = int(call.params["guild_id"]) if "guild_id" in call.params else None
        if guild_id is not None:
            if guild_id not in self.world.guilds:
                raise errors.ApiError(404, errors.UNKNOWN_GUILD, "Unknown Guild")
            if not self.world.in_guild(app.bot_user_id, guild_id):
                raise errors.missing_access()
        return app, guild_id

    def _scoped(self, app_id: int, guild_id: int | None) -> list[Command]:
        return [
            c
            for c in self.world.commands.values()
            if c.application_id == app_id and c.guild_id == guild_id
        ]

    def command_payload(self, c: Command) -> dict[str, Any]:
        data: dict[str, Any] = {
            "default_member_permissions": None,
            "contexts": None,
            "integration_types": [0],
            "nsfw": False,
            "description": "",
            "options": [],
            **c.payload,
            "id": str(c.id),
            "application_id": str(c.application_id),
            "name": c.name,
            "type": c.type,
            "version": str(c.version),
        }
        if c.guild_id is not None:
            data["guild_id"] = str(c.guild_id)
        return data

    async def put_commands(self, call: Call) -> tuple[int, Any]:
        app, guild_id = self._command_scope(call)
        body = call.body
        if not isinstance(body, list):
            raise errors.form_errors(
                {"_errors": [{"code": "BASE_TYPE_ARRAY", "message": "Must be an array."}]}
            )
        validate(body, COMMANDS_FIELDS, message=False)
        validate_localizations(body)
        old = {(c.name, c.type): c for c in self._scoped(app.id, guild_id)}
        for c in old.values():
            del self.world.commands[c.id]
        out = []
        for item in body:
            ctype = int(item.get("type") or 1)
            prev = old.get((item["name"], ctype))
            cmd = Command(
                id=prev.id if prev else self.world.ids.next(),
                application_id=app.id,
                guild_id=guild_id,
                name=item["name"],
                type=ctype,
                payload={k: v for k, v in item.items() if k not in ("id", "guild_id")},
                version=self.world.ids.next(),
            )
            self.world.commands[cmd.id] = cmd
            out.append(self.command_payload(cmd))
        return 200, out

    async def get_commands(self, call: Call) -> tuple[int, Any]:
        app, guild_id = self._command_scope(call)
        return 200, [self.command_payload(c) for c in self._scoped(app.id, guild_id)]
