"""Bot API methods about the bot itself, its updates, commands, chats and callback queries."""

from __future__ import annotations

import json
import re
from typing import Any

from relay_sandbox.telegram.core import Engine
from relay_sandbox.telegram.errors import CONFLICT_WEBHOOK, ApiError, bad_request
from relay_sandbox.telegram.records import Bot, Json, Member
from relay_sandbox.telegram.render import member_to_api, message_to_api
from relay_sandbox.telegram.request import ApiCall
from relay_sandbox.telegram.updates import DEFAULT_ALLOWED, UPDATE_KINDS
from relay_sandbox.telegram.webhooks import Webhook, WebhookSender, check_webhook

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
#: The longest long poll the sandbox holds (the real server caps timeouts too).
MAX_POLL_SECONDS = 50


def get_me(engine: Engine, bot: Bot, call: ApiCall) -> Json:
    """getMe."""
    return bot.to_api()


def ok(engine: Engine, bot: Bot, call: ApiCall) -> bool:
    """logOut and close: accepted, nothing to do locally."""
    return True


async def set_webhook(engine: Engine, bot: Bot, call: ApiCall) -> bool:
    """setWebhook: deliver updates by POST from now on (an empty url removes the webhook)."""
    p = call.params
    if not p["url"]:
        return await delete_webhook(engine, bot, call)
    check_webhook(p["url"], p.get("secret_token"), p.get("max_connections"))
    await _stop_webhook(engine, bot)
    queue = engine.queue(bot.id)
    if p.get("drop_pending_updates"):
        queue.drop_pending()
    if p.get("allowed_updates") is not None:
        queue.allowed = frozenset(p["allowed_updates"]) & UPDATE_KINDS or DEFAULT_ALLOWED
    hook = Webhook(p["url"], p.get("secret_token"), p.get("max_connections") or 40)
    sender = engine.webhooks[bot.id] = WebhookSender(hook, queue)
    sender.start()
    return True


async def delete_webhook(engine: Engine, bot: Bot, call: ApiCall) -> bool:
    """deleteWebhook: back to getUpdates; may drop pending updates."""
    await _stop_webhook(engine, bot)
    if call.params.get("drop_pending_updates"):
        engine.queue(bot.id).drop_pending()
    return True


async def _stop_webhook(engine: Engine, bot: Bot) -> None:
    sender = engine.webhooks.pop(bot.id, None)
    if sender is not None:
        await sender.stop()


def get_webhook_info(engine: Engine, bot: Bot, call: ApiCall) -> Json:
    """getWebhookInfo (an empty url while polling)."""
    sender = engine.webhooks.get(bot.id)
    if sender is not None:
        return sender.info()
    pending = len(engine.queue(bot.id).pending)
    return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}


async def get_updates(engine: Engine, bot: Bot, call: ApiCall) -> list[Json]:
    """getUpdates with long polling; 409 while a webhook is set."""
    if bot.id in engine.webhooks:
        raise ApiError(409, CONFLICT_WEBHOOK)
    p = call.params
    return await engine.queue(bot.id).poll(
        offset=p.get("offset"),
        limit=p.get("limit", 100),
        timeout=min(max(p.get("timeout", 0), 0), MAX_POLL_SECONDS),
        allowed_updates=p.get("allowed_updates"),
    )


def _commands_key(bot: Bot, p: dict[str, Any]) -> tuple[int, str, str]:
    scope = p.get("scope") or {"type": "default"}
    return bot.id, json.dumps(scope, sort_keys=True), p.get("language_code") or ""


def set_my_commands(engine: Engine, bot: Bot, call: ApiCall) -> bool:
    """setMyCommands: at most 100; command 1-32 of [a-z0-9_]; description 1-256."""
    commands = call.params["commands"]
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    clean = []
    for item in commands:
        command = str(item.get("command", "")).removeprefix("/")
        description = str(item.get("description", ""))
        if not _COMMAND.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("command description must be non-empty")
        clean.append({"command": command, "description": description})
    engine.world.commands[_commands_key(bot, call.params)] = clean
    return True


def get_my_commands(engine: Engine, bot: Bot, call: ApiCall) -> list[dict[str, str]]:
    """getMyCommands."""
    return list(engine.world.commands.get(_commands_key(bot, call.params), []))


def delete_my_commands(engine: Engine, bot: Bot, call: ApiCall) -> bool:
    """deleteMyCommands."""
    engine.world.commands.pop(_commands_key(bot, call.params), None)
    return True


MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API serves files up to 20 MB


def file_path(file_id: str) -> str:
    """Where the file server keeps a file (the `file_path` getFile answers)."""
    return f"photos/{file_id}.jpg"


def get_file(engine: Engine, bot: Bot, call: ApiCall) -> Json:
    """getFile: a File with the `file_path` to download it from, for files the sandbox holds."""
    file_id = call.params["file_id"]
    data = engine.world.files.get(file_id)
    if data is None:
        raise bad_request("invalid file_id")
    if len(data) > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    unique = "AQAD" + file_id[-16:]
    return {"file_id": file_id, "file_unique_id": unique, "file_size": len(data),
            "file_path": file_path(file_id)}  # fmt: skip


def get_chat(engine: Engine, bot: Bot, call: ApiCall) -> Json:
    """getChat: a ChatFullInfo with the fields the spec requires."""
    chat = engine.world.resolve(call.params["chat_id"])
    engine.world.check_access(bot, chat, write=False)
    # As in Telegram: the most recent pinned message (the bot's own view of a private chat).
    box = engine.world.box_key(chat, bot.id)
    pinned = [m for m in engine.world.messages(box) if m.pinned and not m.deleted]
    extra: Json = {}
    if pinned:
        extra["pinned_message"] = message_to_api(engine.world, pinned[-1], with_reply=False)
    return {
        **chat.to_api(),
        **extra,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


def get_chat_member(engine: Engine, bot: Bot, call: ApiCall) -> Json:
    """getChatMember: status ``left`` for a known user who is not in the chat."""
    world = engine.world
    chat = world.resolve(call.params["chat_id"])
    world.check_access(bot, chat, write=False)
    user_id = call.params["user_id"]
    if user_id not in world.users:
        raise bad_request("user not found")
    if chat.type == "private":
        member = Member(user_id, "member" if user_id in (chat.id, bot.id) else "left")
    else:
        member = world.member(chat.id, user_id) or Member(user_id, "left")
    return member_to_api(world, member, chat.type)


def get_chat_administrators(engine: Engine, bot: Bot, call: ApiCall) -> list[Json]:
    """getChatAdministrators: other bots only with return_bots."""
    world = engine.world
    chat = world.resolve(call.params["chat_id"])
    world.check_access(bot, chat, write=False)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    out = []
    for member in world.members.get(chat.id, {}).values():
        if member.status not in ("creator", "administrator"):
            continue
        is_other_bot = world.users[member.user_id].is_bot and member.user_id != bot.id
        if is_other_bot and not call.params.get("return_bots"):
            continue
        out.append(member_to_api(world, member, chat.type))
    return out


def answer_callback_query(engine: Engine, bot: Bot, call: ApiCall) -> bool:
    """answerCallbackQuery: each query once, by the bot that received it."""
    query_id = call.params["callback_query_id"]
    if engine.callback_queries.get(query_id) != bot.id:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    del engine.callback_queries[query_id]
    engine.callback_answers[query_id] = dict(call.params)
    return True
