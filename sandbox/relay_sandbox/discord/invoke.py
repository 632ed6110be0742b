"""Members using the app: slash commands, autocomplete, modal submits as INTERACTION_CREATE."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relay_sandbox.discord import payloads
from relay_sandbox.discord import permissions as P
from relay_sandbox.discord.gateway import GatewayHub
from relay_sandbox.discord.state import Interaction, NotFoundInState, World
from relay_sandbox.discord.transcript import MessageView, view

APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
STRING_SELECT = 3
OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10}
ATTACHMENT = 11
IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
               "webp": "image/webp"}  # fmt: skip


@dataclass(frozen=True)
class InteractionResult:
    """What the application answered so far."""

    acknowledged: bool
    response_type: int | None
    response_data: Mapping[str, Any] | None
    original: MessageView | None
    followups: tuple[MessageView, ...]

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Autocomplete choices (response type 8)."""
        return list((self.response_data or {}).get("choices") or [])


class InteractionHandle:
    """A dispatched interaction: read or await what the application does with it."""

    def __init__(self, world: World, interaction: Interaction) -> None:
        self._world = world
        self._it = interaction
        self.id = interaction.id
        self.token = interaction.token

    def result(self) -> InteractionResult:
        it, w = self._it, self._world
        msgs = w.channel_messages(it.channel_id)
        original = msgs.get(it.original_message_id) if it.original_message_id else None
        return InteractionResult(
            acknowledged=it.acknowledged,
            response_type=it.response_type,
            response_data=it.response_data,
            original=view(w, original) if original else None,
            followups=tuple(view(w, msgs[m]) for m in it.followup_ids if m in msgs),
        )

    async def wait(
        self, predicate: Callable[[InteractionResult], bool], within: float = 5.0
    ) -> InteractionResult:
        """Wait until the result satisfies `predicate`; TimeoutError otherwise."""

        async def loop() -> InteractionResult:
            while True:
                res = self.result()
                if predicate(res):
                    return res
                self._it.changed.clear()
                await self._it.changed.wait()

        return await asyncio.wait_for(loop(), within)

    async def response(self, within: float = 5.0) -> InteractionResult:
        """Wait for the initial response."""
        return await self.wait(lambda r: r.acknowledged, within)


def _options(options: Mapping[str, Any] | None, focused: str | None) -> list[dict[str, Any]]:
    out = []
    for name, value in (options or {}).items():
        opt: dict[str, Any] = {
            "name": name,
            "type": OPTION_TYPES.get(type(value), 3),
            "value": value,
        }
        if name == focused:
            opt["focused"] = True
        out.append(opt)
    return out


class Invoker:
    """Builds interaction payloads like Discord and dispatches them to the app's sessions."""

    def __init__(self, world: World, hub: GatewayHub) -> None:
        self.world = world
        self.hub = hub

    def _base(
        self, app_id: int, guild_id: int, channel_id: int, user_id: int, itype: int,
        locale: str = "en-US",
    ) -> Interaction:  # fmt: skip
        w = self.world
        app, guild, channel = w.apps.get(app_id), w.guilds.get(guild_id), w.channels.get(channel_id)
        if app is None or guild is None or channel is None or user_id not in guild.members:
            raise NotFoundInState("unknown app, guild, channel or member")
        it = Interaction(
            id=w.ids.next(),
            token="aW50ZXJhY3Rpb246" + w.new_token(),
            application_id=app_id,
            type=itype,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            created_at=w.clock(),
            payload={},
        )
        member_perms = w.permissions_in(channel, user_id)
        it.payload = {
            "id": str(it.id),
            "application_id": str(app_id),
            "type": itype,
            "token": it.token,
            "version": 1,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": {**payloads.channel(channel), "permissions": str(member_perms)},
            "member": payloads.member(w, guild.members[user_id], permissions=member_perms),
            "app_permissions": str(w.permissions_in(channel, app.bot_user_id)),
            "locale": locale,  # the member's client language
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        return it

    def _dispatch(self, it: Interaction) -> InteractionHandle:
        self.world.interactions[it.id] = it
        self.world.interactions_by_token[it.token] = it
        self.hub.dispatch_app(it.application_id, "INTERACTION_CREATE", it.payload)
        return InteractionHandle(self.world, it)

    def command(
        self,
        *,
        app_id: int,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
        focused: str | None = None,
        locale: str = "en-US",
        attachments: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> InteractionHandle:
        """Invoke (or autocomplete, when `focused` names an option) a registered command.
        `attachments`: attachment options (type 11), by name, as (file name, bytes): the data
        names each by id and resolves it to an attachment served at its URL, as Discord does."""
        cmd = next(
            (
                c
                for c in self.world.commands.values()
                if c.application_id == app_id and c.name == name and c.guild_id == guild_id
            ),
            None,
        ) or next(
            (
                c
                for c in self.world.commands.values()
                if c.application_id == app_id and c.name == name and c.guild_id is None
            ),
            None,
        )
        if cmd is None:
            raise NotFoundInState(f"command {name!r} is not registered for app {app_id}")
        itype = AUTOCOMPLETE if focused else APPLICATION_COMMAND
        it = self._base(app_id, guild_id, channel_id, user_id, itype, locale)
        opts = _options(options, focused)
        resolved: dict[str, Any] = {}
        for option, (filename, content) in (attachments or {}).items():
            aid = str(self.world.ids.next())
            self.world.cdn[f"attachments/{aid}/{filename}"] = content
            url = f"{self.world.cdn_base}/attachments/{aid}/{filename}"
            kind = IMAGE_TYPES.get(filename.rsplit(".", 1)[-1].lower(), "application/octet-stream")
            resolved[aid] = {"id": aid, "filename": filename, "size": len(content), "url": url,
                             "proxy_url": url, "content_type": kind}  # fmt: skip
            opts.append({"name": option, "type": ATTACHMENT, "value": aid})
        if subcommand:
            opts = [{"name": subcommand, "type": 1, "options": opts}]
        data: dict[str, Any] = {"id": str(cmd.id), "name": name, "type": cmd.type, "options": opts}
        if resolved:
            data["resolved"] = {"attachments": resolved}
        if cmd.guild_id is not None:
            data["guild_id"] = str(cmd.guild_id)
        it.payload["data"] = data
        perms = self.world.guild_permissions(self.world.guilds[guild_id], user_id)
        if not perms & P.USE_APPLICATION_COMMANDS and perms != P.ALL:
            raise PermissionError("the member may not use application commands here")
        return self._dispatch(it)

    def choose(
        self,
        *,
        app_id: int,
        guild_id: int,
        channel_id: int,
        user_id: int,
        message_id: int,
        custom_id: str,
        values: Sequence[str],
    ) -> InteractionHandle:
        """Choose `values` in the string select `custom_id` of the app's message `message_id`.

        Only what the message shows can be chosen: a select it has, options it lists.
        """
        msg = self.world.channel_messages(channel_id).get(message_id)
        if msg is None or msg.deleted or msg.application_id != app_id:
            raise NotFoundInState(f"no message {message_id} of the app in {channel_id}")
        inner = [c for row in msg.components for c in row.get("components") or []]
        selects = {c.get("custom_id"): c for c in inner if c.get("type") == STRING_SELECT}
        select = selects.get(custom_id)
        if select is None:
            raise ValueError(f"message {message_id} has no select menu {custom_id!r}")
        offered = {o.get("value") for o in select.get("options") or []}
        if not set(values) <= offered:
            raise ValueError(f"{sorted(set(values) - offered)} are not options of {custom_id!r}")
        it = self._base(app_id, guild_id, channel_id, user_id, MESSAGE_COMPONENT)
        it.payload["message"] = payloads.message(self.world, msg)
        it.payload["data"] = {"custom_id": custom_id, "component_type": STRING_SELECT,
                              "values": list(values)}  # fmt: skip
        return self._dispatch(it)

    def modal_submit(
        self,
        *,
        app_id: int,
        guild_id: int,
        channel_id: int,
        user_id: int,
        custom_id: str,
        values: Mapping[str, str],
        locale: str = "en-US",
    ) -> InteractionHandle:
        """Submit a modal whose text inputs have the given custom ids and values."""
        it = self._base(app_id, guild_id, channel_id, user_id, MODAL_SUBMIT, locale)
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ]
        it.payload["data"] = {"custom_id": custom_id, "components": rows}
        return self._dispatch(it)
