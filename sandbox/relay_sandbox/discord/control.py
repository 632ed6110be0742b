"""The in-process control API: build the world, make members act, inject faults, read."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from relay_sandbox.discord import payloads
from relay_sandbox.discord import permissions as P
from relay_sandbox.discord.faults import FaultRates, Faults, ScriptedFailure
from relay_sandbox.discord.gateway import GatewayHub
from relay_sandbox.discord.invoke import InteractionHandle, Invoker
from relay_sandbox.discord.state import (
    GATEWAY_MESSAGE_CONTENT,
    TEXT,
    THREAD_TYPES,
    Application,
    Channel,
    Guild,
    Member,
    NotFoundInState,
    Role,
    User,
    Webhook,
    World,
)
from relay_sandbox.discord.transcript import (
    EventBus,
    MessageView,
    RequestRecord,
    TranscriptEvent,
    view,
)

BOT_DEFAULT_PERMISSIONS = (
    P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.EMBED_LINKS
    | P.ATTACH_FILES
    | P.READ_MESSAGE_HISTORY
    | P.SEND_MESSAGES_IN_THREADS
    | P.MANAGE_MESSAGES
)


@dataclass(frozen=True)
class BotInfo:
    """A created application: ids and the bot token."""

    application_id: int
    bot_user_id: int
    token: str


class Control:
    """Test/demo/benchmark control over a running sandbox."""

    def __init__(
        self,
        world: World,
        hub: GatewayHub,
        faults: Faults,
        bus: EventBus,
        request_log: deque[RequestRecord],
    ) -> None:
        self.world = world
        self.hub = hub
        self.faults = faults
        self.bus = bus
        self.request_log = request_log
        self.invoker = Invoker(world, hub)

    # -- world building -------------------------------------------------------------------

    def create_user(self, username: str, *, bot: bool = False) -> int:
        uid = self.world.ids.next()
        self.world.users[uid] = User(uid, username, bot=bot)
        return uid

    def create_application(
        self, name: str = "relay", *, message_content: bool = False, token: str | None = None
    ) -> BotInfo:
        """An application with a bot user; `message_content` enables the privileged intent."""
        owner = self.create_user(f"{name}-owner")
        bot = self.create_user(name, bot=True)
        app_id = self.world.ids.next()
        token = token or f"{app_id}.{self.world.new_token()}"
        flags = GATEWAY_MESSAGE_CONTENT if message_content else 0
        app = Application(app_id, name, bot, token, owner, flags)
        self.world.apps[app_id] = app
        self.world.apps_by_token[token] = app
        return BotInfo(app_id, bot, token)

    def set_message_content(self, app_id: int, enabled: bool) -> None:
        app = self.world.apps[app_id]
        app.flags = (
            (app.flags | GATEWAY_MESSAGE_CONTENT)
            if enabled
            else (app.flags & ~GATEWAY_MESSAGE_CONTENT)
        )

    def create_guild(
        self,
        name: str = "newsroom",
        *,
        owner_id: int | None = None,
        everyone: int = P.DEFAULT_EVERYONE,
    ) -> int:
        owner = owner_id if owner_id is not None else self.create_user(f"{name}-owner")
        gid = self.world.ids.next()
        guild = Guild(gid, name, owner)
        guild.roles[gid] = Role(gid, gid, "@everyone", everyone)
        guild.members[owner] = Member(owner, gid)
        self.world.guilds[gid] = guild
        return gid

    def create_role(
        self, guild_id: int, name: str, permissions: int = 0, *, mentionable: bool = False
    ) -> int:
        guild = self.world.guild(guild_id)
        rid = self.world.ids.next()
        guild.roles[rid] = Role(rid, guild_id, name, permissions, len(guild.roles), mentionable)
        self.hub.dispatch_guild(
            guild_id,
            "GUILD_ROLE_CREATE",
            {"guild_id": str(guild_id), "role": payloads.role(guild.roles[rid])},
        )
        return rid

    def set_role_permissions(self, guild_id: int, role_id: int, permissions: int) -> None:
        role = self.world.guild(guild_id).roles[role_id]
        role.permissions = permissions
        self.hub.dispatch_guild(
            guild_id, "GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": payloads.role(role)}
        )

    def add_member(
        self,
        guild_id: int,
        user_id: int | None = None,
        *,
        roles: Iterable[int] = (),
        name: str = "reader",
    ) -> int:
        """Add a person (created when `user_id` is None) to a guild; returns the user id."""
        guild = self.world.guild(guild_id)
        uid = user_id if user_id is not None else self.create_user(name)
        guild.members[uid] = Member(uid, guild_id, list(roles))
        return uid

    def create_channel(
        self,
        guild_id: int,
        name: str,
        *,
        type: int = TEXT,
        parent_id: int | None = None,
        topic: str | None = None,
        overwrites: Iterable[P.Overwrite] = (),
    ) -> int:
        """A text (0), announcement (5), forum (15) channel, or a thread (11/12) of `parent_id`."""
        guild = self.world.guild(guild_id)
        if type in THREAD_TYPES and parent_id not in self.world.channels:
            raise NotFoundInState("a thread needs an existing parent channel")
        cid = self.world.ids.next()
        ch = Channel(cid, guild_id, type, name, len(guild.channel_ids), parent_id, topic)
        ch.overwrites = list(overwrites)
        ch.owner_id = guild.owner_id if type in THREAD_TYPES else None
        self.world.channels[cid] = ch
        guild.channel_ids.append(cid)
        event = "THREAD_CREATE" if type in THREAD_TYPES else "CHANNEL_CREATE"
        self.hub.dispatch_guild(guild_id, event, payloads.channel(ch))
        return cid

    def set_overwrite(
        self,
        channel_id: int,
        target_id: int,
        *,
        type: int = P.ROLE_OVERWRITE,
        allow: int = 0,
        deny: int = 0,
    ) -> None:
        """Set (replace) one overwrite and tell the bots (CHANNEL_UPDATE)."""
        ch = self.world.channel(channel_id)
        ch.overwrites = [o for o in ch.overwrites if (o.type, o.id) != (type, target_id)]
        ch.overwrites.append(P.Overwrite(target_id, type, allow, deny))
        self.hub.dispatch_guild(ch.guild_id, "CHANNEL_UPDATE", payloads.channel(ch))

    def create_webhook(self, channel_id: int, name: str = "Captain Hook") -> tuple[int, str]:
        ch = self.world.channel(channel_id)
        wid = self.world.ids.next()
        hook = Webhook(
            wid, self.world.new_token() + self.world.new_token()[:20], channel_id, ch.guild_id, name
        )
        self.world.webhooks[wid] = hook
        return wid, hook.token

    def invite_bot(
        self, app_id: int, guild_id: int, permissions: int = BOT_DEFAULT_PERMISSIONS
    ) -> int:
        """Add the app's bot with a managed role of `permissions`; GUILD_CREATE to its sessions."""
        app, guild = self.world.app(app_id), self.world.guild(guild_id)
        role_id = self.create_role(guild_id, app.name, permissions)
        guild.members[app.bot_user_id] = Member(app.bot_user_id, guild_id, [role_id])
        data = payloads.guild_create(self.world, guild)
        for s in list(self.hub.sessions.values()):
            if s.app_id == app_id and s.sees_guild(guild_id):
                self.hub.dispatch(s, "GUILD_CREATE", data)
        return role_id

    def remove_bot(self, app_id: int, guild_id: int) -> None:
        """Kick the bot: its sessions get GUILD_DELETE and its REST calls 50001 from now on."""
        app, guild = self.world.app(app_id), self.world.guild(guild_id)
        guild.members.pop(app.bot_user_id, None)
        for s in list(self.hub.sessions.values()):
            if s.app_id == app_id and s.sees_guild(guild_id):
                self.hub.dispatch(s, "GUILD_DELETE", {"id": str(guild_id)})

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel (and its threads and webhooks); CHANNEL_DELETE to the guild's bots."""
        ch = self.world.channel(channel_id)
        if ch.type in THREAD_TYPES:
            data = {"id": str(ch.id), "guild_id": str(ch.guild_id), "type": ch.type}
            data["parent_id"] = str(ch.parent_id)
            self.hub.dispatch_guild(ch.guild_id, "THREAD_DELETE", data)
        else:
            self.hub.dispatch_guild(ch.guild_id, "CHANNEL_DELETE", payloads.channel(ch))
        for c in [c for c in self.world.channels.values() if c.parent_id == channel_id] + [ch]:
            self.world.channels.pop(c.id, None)
            self.world.deleted_channels.add(c.id)
            guild = self.world.guilds[c.guild_id]
            guild.channel_ids = [x for x in guild.channel_ids if x != c.id]
        for wid in [w.id for w in self.world.webhooks.values() if w.channel_id == channel_id]:
            del self.world.webhooks[wid]

    # -- members acting --------------------------------------------------------------------------

    def invoke(
        self,
        app_id: int,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        locale: str = "en-US",
        attachments: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> InteractionHandle:
        """A member runs `/name options…`: INTERACTION_CREATE (type 2) to the app's sessions;
        `locale` is the member's client language, as Discord sends it ("uk", "en-US").
        `attachments` adds file options: name → (file name, bytes), served at their URLs."""
        return self.invoker.command(
            app_id=app_id, guild_id=guild_id, channel_id=channel_id, user_id=user_id,
            name=name, options=options, subcommand=subcommand, locale=locale,
            attachments=attachments,
        )  # fmt: skip

    def autocomplete(
        self,
        app_id: int,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """A member types into option `focused`: INTERACTION_CREATE (type 4)."""
        return self.invoker.command(
            app_id=app_id, guild_id=guild_id, channel_id=channel_id, user_id=user_id,
            name=name, options=options, focused=focused, locale=locale,
        )  # fmt: skip

    def choose(
        self,
        app_id: int,
        guild_id: int,
        channel_id: int,
        user_id: int,
        message_id: int,
        custom_id: str,
        values: Sequence[str],
    ) -> InteractionHandle:
        """A member chooses in a select menu of the app's message: INTERACTION_CREATE (type 3)."""
        return self.invoker.choose(
            app_id=app_id, guild_id=guild_id, channel_id=channel_id, user_id=user_id,
            message_id=message_id, custom_id=custom_id, values=values,
        )  # fmt: skip

    def submit_modal(
        self,
        app_id: int,
        guild_id: int,
        channel_id: int,
        user_id: int,
        custom_id: str,
        values: Mapping[str, str],
        *,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """A member submits a modal: INTERACTION_CREATE (type 5)."""
        return self.invoker.modal_submit(
            app_id=app_id, guild_id=guild_id, channel_id=channel_id, user_id=user_id,
            custom_id=custom_id, values=values, locale=locale,
        )  # fmt: skip

    def age_interaction(self, handle: InteractionHandle, seconds: float) -> None:
        """Pretend the interaction was created `seconds` earlier (to test the 3 s window)."""
        self.world.interactions[handle.id].created_at -= seconds

    # -- faults -----------------------------------------------------------------------------

    def set_faults(self, rates: FaultRates) -> None:
        self.faults.set_rates(rates)

    def fail_next(
        self,
        endpoint: str,
        *,
        status: int,
        code: int = 0,
        message: str = "",
        count: int = 1,
        channel_id: int | None = None,
        retry_after: float | None = None,
        after: int = 0,
    ) -> None:
        """Make the next `count` requests to `endpoint` (a name in endpoints.py) fail, after
        letting `after` of them through."""
        failure = ScriptedFailure(endpoint, status, code, message, retry_after, channel_id)
        self.faults.fail_next(replace(failure, after=after), count)

    def lose_next_answer(
        self, endpoint: str, *, count: int = 1, channel_id: int | None = None
    ) -> None:
        """Serve the next `count` requests to `endpoint`, then drop the connection unanswered."""
        self.faults.fail_next(
            ScriptedFailure(endpoint, 0, channel_id=channel_id, lose_answer=True), count
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    async def disconnect_gateway(
        self, app_id: int, *, code: int = 4000, resumable: bool = True
    ) -> int:
        """Drop the app's gateway connections (the client should RESUME when resumable)."""
        return await self.hub.disconnect(app_id, code=code, resumable=resumable)

    def gateway_outage(self, down: bool) -> None:
        """While `down`, refuse every new gateway connection (a client retries with backoff)."""
        self.hub.down = down

    # -- reading ------------------------------------------------------------------------------

    def transcript(self, channel_id: int, *, include_deleted: bool = True) -> list[MessageView]:
        """The channel as displayed, oldest first; deletions marked (or left out)."""
        msgs = self.world.channel_messages(channel_id).values()
        return [view(self.world, m) for m in msgs if include_deleted or not m.deleted]

    def requests(self, endpoint: str | None = None) -> list[RequestRecord]:
        return [r for r in self.request_log if endpoint is None or r.endpoint == endpoint]

    def events(self) -> AsyncIterator[TranscriptEvent]:
        """Transcript events from now on (created/edited/deleted/crossposted)."""
        return self.bus.events()

    def sessions(self, app_id: int) -> int:
        """How many gateway sessions the app has (connected or resumable)."""
        return sum(1 for s in self.hub.sessions.values() if s.app_id == app_id)
