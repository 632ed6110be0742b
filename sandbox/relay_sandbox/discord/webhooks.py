"""Interaction callbacks and webhook routes: follow-ups, @original, incoming webhooks."""

from __future__ import annotations

from typing import Any

from relay_sandbox.discord import errors, payloads
from relay_sandbox.discord.endpoints import (
    CALLBACK_DATA_FIELDS,
    CALLBACK_FIELDS,
    WEBHOOK_EDIT_FIELDS,
    WEBHOOK_EXECUTE_FIELDS,
)
from relay_sandbox.discord.gateway import GatewayHub
from relay_sandbox.discord.messages import WEBHOOK_PARSE, MessageOps
from relay_sandbox.discord.modals import check_modal
from relay_sandbox.discord.rest import attachments_of
from relay_sandbox.discord.routing import Call, Handler
from relay_sandbox.discord.state import (
    EPHEMERAL,
    FORUM,
    LOADING,
    PUBLIC_THREAD,
    Channel,
    Interaction,
    Message,
    Webhook,
    World,
)
from relay_sandbox.discord.validate import is_empty_message, validate

RESPONSE_WINDOW = 3.0  # seconds to send the initial response
TOKEN_LIFETIME = 15 * 60.0
PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
COMPONENT = 3  # the interaction type of a button press or a select menu choice


class WebhookApi:
    """Handlers for routes authenticated by an interaction token or a webhook token."""

    def __init__(self, world: World, ops: MessageOps, hub: GatewayHub) -> None:
        self.world = world
        self.ops = ops
        self.hub = hub

    def handlers(self) -> dict[str, Handler]:
        return {
            "interaction_callback": self.callback,
            "execute_webhook": self.execute,
            "get_original": self.get_message,
            "edit_original": self.edit_message,
            "delete_original": self.delete_message,
            "get_webhook_message": self.get_message,
            "edit_webhook_message": self.edit_message,
            "delete_webhook_message": self.delete_message,
        }

    # -- initial response ---------------------------------------------------------------------

    async def callback(self, call: Call) -> tuple[int, Any]:
        it = self.world.interactions.get(call.int_param("interaction_id"))
        if it is None or it.token != call.params["interaction_token"]:
            raise errors.unknown_interaction()
        if it.acknowledged:
            raise errors.already_acknowledged()
        if self.world.clock() - it.created_at > RESPONSE_WINDOW:
            raise errors.unknown_interaction()
        body = call.body
        validate(body, CALLBACK_FIELDS[:2], message=False)
        data = body.get("data") or {}
        rtype = body["type"]
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}.get(it.type, set())
        if rtype not in allowed:
            raise errors.form_errors(
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                "message": "Interaction response type is invalid.",
                            }
                        ]
                    }
                }
            )
        message: Message | None = None
        if rtype == MODAL:
            check_modal(data).raise_if_any()
        if rtype == MESSAGE:
            validate(data, CALLBACK_DATA_FIELDS, message=True, prefix=("data",))
            if is_empty_message(data, has_files=bool(call.files)):
                raise errors.empty_message()
            message = self._post(it, data, call, int(data.get("flags") or 0) & EPHEMERAL)
            it.original_message_id = message.id
        elif rtype == UPDATE_MESSAGE and it.type == COMPONENT:  # the message chosen in
            validate(data, CALLBACK_DATA_FIELDS, message=True, prefix=("data",))
            message = self._component_message(it)
            self.ops.edit(message, data, default_parse=WEBHOOK_PARSE)
            it.original_message_id = message.id
        elif rtype == DEFERRED_MESSAGE:
            flags = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            message = self._post(it, {}, call, flags)
            it.original_message_id = message.id
        elif rtype == AUTOCOMPLETE_RESULT:
            choices = data.get("choices")
            if not isinstance(choices, list) or len(choices) > 25:
                raise errors.form_errors(
                    {
                        "data": {
                            "choices": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_MAX_LENGTH",
                                        "message": "Must be 25 or fewer in length.",
                                    }
                                ]
                            }
                        }
                    }
                )
        it.acknowledged = True
        it.response_type = rtype
        it.response_data = data
        it.changed.set()
        if call.query("with_response") not in ("1", "true", "True"):
            return 204, None
        resource: dict[str, Any] = {"type": rtype}
        if message is not None:
            resource["message"] = payloads.message(self.world, message)
        return 200, {
            "interaction": {
                "id": str(it.id),
                "type": it.type,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": rtype == DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(message and message.flags & EPHEMERAL),
            },
            "resource": resource,
        }

    def _component_message(self, it: Interaction) -> Message:
        """The message whose component a member used."""
        found = self.world.channel_messages(it.channel_id).get(int(it.payload["message"]["id"]))
        if found is None or found.deleted:
            raise errors.unknown_message()
        return found

    def _post(self, it: Interaction, data: dict[str, Any], call: Call, flags: int) -> Message:
        app = self.world.apps[it.application_id]
        channel = self.world.channels.get(it.channel_id)
        if channel is None:
            raise errors.unknown_channel()
        return self.ops.create(
            channel,
            app.bot_user_id,
            data,
            default_parse=WEBHOOK_PARSE,
            can_mention_everyone=True,
            application_id=app.id,
            interaction_id=it.id,
            flags=flags,
            attachments=attachments_of(self.world, call.files),
        )

    # -- token routes -------------------------------------------------------------------------

    def _resolve(self, call: Call) -> tuple[Interaction | None, Webhook | None]:
        wid, token = call.int_param("webhook_id"), call.params["webhook_token"]
        it = self.world.interactions_by_token.get(token)
        if it is not None and it.application_id == wid:
            if self.world.clock() - it.created_at > TOKEN_LIFETIME:
                raise errors.ApiError(401, 50027, "Invalid Webhook Token")
            if not it.acknowledged:
                raise errors.unknown_webhook()
            return it, None
        hook = self.world.webhooks.get(wid)
        if hook is None or hook.token != token or hook.channel_id not in self.world.channels:
            raise errors.unknown_webhook()
        return None, hook

    def _target(self, call: Call) -> tuple[Interaction | None, Webhook | None, Message]:
        it, hook = self._resolve(call)
        mid_text = call.params.get("message_id")
        if mid_text is None:  # @original
            if it is None or it.original_message_id is None:
                raise errors.unknown_message()
            mid = it.original_message_id
        else:
            mid = call.int_param("message_id")
        ok = (it is not None and (mid == it.original_message_id or mid in it.followup_ids)) or (
            hook is not None
        )
        channel_id = it.channel_id if it is not None else hook.channel_id if hook else 0
        m = self._find(mid, channel_id, call)
        if m is None or m.deleted or not ok or (hook is not None and m.webhook_id != hook.id):
            raise errors.unknown_message()
        return it, hook, m

    def _find(self, mid: int, channel_id: int, call: Call) -> Message | None:
        thread = call.query("thread_id")
        for cid in (int(thread), channel_id) if thread and thread.isdigit() else (channel_id,):
            m = self.world.channel_messages(cid).get(mid)
            if m is not None:
                return m
        return None

    async def execute(self, call: Call) -> tuple[int, Any]:
        it, hook = self._resolve(call)
        body = call.body
        validate(body, WEBHOOK_EXECUTE_FIELDS, message=True)
        if is_empty_message(body, has_files=bool(call.files)):
            raise errors.empty_message()
        wait = call.query("wait", "false") in ("1", "true", "True")
        if it is not None:
            m = self._post(it, body, call, int(body.get("flags") or 0) & EPHEMERAL)
            it.followup_ids.append(m.id)
            it.changed.set()
        else:
            assert hook is not None
            channel = self._webhook_target(hook, call, body)
            m = self.ops.create(
                channel,
                hook.id,
                body,
                default_parse=WEBHOOK_PARSE,
                can_mention_everyone=True,
                webhook_id=hook.id,
                webhook_name=body.get("username") or hook.name,
                attachments=attachments_of(self.world, call.files),
            )
        if not wait and it is None:
            return 204, None
        return 200, payloads.message(self.world, m)

    def _webhook_target(self, hook: Webhook, call: Call, body: dict[str, Any]) -> Channel:
        """The hook's channel, a thread of it, or (forums) a new post named `thread_name`."""
        channel = self.world.channels[hook.channel_id]
        thread = call.query("thread_id")
        if thread:
            found = self.world.channels.get(int(thread)) if thread.isdigit() else None
            if found is None or found.parent_id != channel.id:
                raise errors.unknown_channel()
            return found
        if channel.type != FORUM:
            return channel
        name = body.get("thread_name")
        if not name:
            raise errors.ApiError(
                400,
                220001,
                "Webhooks posted to forum channels must have a thread_name or thread_id",
            )
        post = Channel(self.world.ids.next(), channel.guild_id, PUBLIC_THREAD, name)
        post.parent_id, post.owner_id = channel.id, hook.id
        self.world.channels[post.id] = post
        self.world.guilds[channel.guild_id].channel_ids.append(post.id)
        self.hub.dispatch_guild(channel.guild_id, "THREAD_CREATE", payloads.channel(post))
        return post

    async def get_message(self, call: Call) -> tuple[int, Any]:
        _, _, m = self._target(call)
        return 200, payloads.message(self.world, m)

    async def edit_message(self, call: Call) -> tuple[int, Any]:
        it, _, m = self._target(call)
        validate(call.body, WEBHOOK_EDIT_FIELDS, message=True)
        self.ops.edit(m, call.body, default_parse=WEBHOOK_PARSE, can_mention_everyone=True)
        # As on Discord: `attachments` lists the old files kept (`ops.edit`); new uploads are
        # added to them.
        m.attachments = [*m.attachments, *attachments_of(self.world, call.files)]
        if it is not None:
            it.changed.set()
        return 200, payloads.message(self.world, m)

    async def delete_message(self, call: Call) -> tuple[int, Any]:
        it, _, m = self._target(call)
        self.ops.delete(m)
        if it is not None:
            it.changed.set()
        return 204, None
