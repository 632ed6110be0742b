"""The control API over HTTP (JSON) under ``/_sandbox/telegram/``, events as server-sent events."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from typing import Any

from aiohttp import web

from relay_sandbox.telegram.control import TelegramControl
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import Bot, Chat, Member, Topic, User

log = logging.getLogger(__name__)

PREFIX = "/_sandbox/telegram"
Body = dict[str, Any]
Action = Callable[[TelegramControl, web.Request, Body], Any]


def _chat_id(request: web.Request) -> int:
    return int(request.match_info["chat_id"])


def _user_id(request: web.Request) -> int:
    return int(request.match_info["user_id"])


def _out(value: Any) -> Any:
    if isinstance(value, Bot):
        return {**value.to_api(), "token": value.token}
    if isinstance(value, User | Chat):
        return value.to_api()
    if isinstance(value, Member):
        return {"user_id": value.user_id, "status": value.status, "rights": sorted(value.rights)}
    if isinstance(value, Topic):
        return {"message_thread_id": value.thread_id, "name": value.name}
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_out(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


_POST: dict[str, Action] = {
    "/bots": lambda c, r, b: c.create_bot(
        b["username"],
        token=b.get("token"),
        first_name=b.get("first_name"),
        can_read_all_group_messages=bool(b.get("can_read_all_group_messages", False)),
    ),
    "/users": lambda c, r, b: c.create_user(
        b["first_name"], username=b.get("username"), last_name=b.get("last_name")
    ),
    "/chats": lambda c, r, b: c.create_chat(
        b["type"],
        b["title"],
        username=b.get("username"),
        is_forum=bool(b.get("is_forum", False)),
        creator=b.get("creator"),
        members=tuple(b.get("members", ())),
    ),
    "/chats/{chat_id}/topics": lambda c, r, b: c.create_topic(_chat_id(r), b["name"]),
    "/chats/{chat_id}/members": lambda c, r, b: c.set_member(
        _chat_id(r), b["user_id"], b["status"], rights=tuple(b.get("rights", ()))
    ),
    "/chats/{chat_id}/bots": lambda c, r, b: c.add_bot(
        _chat_id(r),
        b["bot"],
        admin=bool(b.get("admin", True)),
        rights=tuple(b["rights"]) if "rights" in b else None,
    ),
    "/chats/{chat_id}/messages": lambda c, r, b: c.send_message(
        b["user_id"],
        b.get("text"),
        chat_id=_chat_id(r),
        bot=b.get("bot"),
        thread_id=b.get("thread_id"),
        reply_to=b.get("reply_to"),
    ),
    "/chats/{chat_id}/messages/{message_id}/edit": lambda c, r, b: c.edit_message(
        b["user_id"],
        _chat_id(r),
        int(r.match_info["message_id"]),
        b["text"],
        bot=b.get("bot"),
    ),
    "/chats/{chat_id}/kick": lambda c, r, b: c.kick_bot(_chat_id(r), b["bot"]),
    "/chats/{chat_id}/remove": lambda c, r, b: c.remove_bot(_chat_id(r), b["bot"]),
    "/chats/{chat_id}/delete": lambda c, r, b: c.delete_chat(_chat_id(r)),
    "/chats/{chat_id}/migrate": lambda c, r, b: c.migrate(_chat_id(r)),
    "/chats/{chat_id}/buttons": lambda c, r, b: c.press_button(
        b["user_id"], _chat_id(r), b["message_id"], b["data"], bot=b.get("bot")
    ),
    "/users/{user_id}/block": lambda c, r, b: c.block(_user_id(r), b["bot"]),
    "/users/{user_id}/unblock": lambda c, r, b: c.unblock(_user_id(r), b["bot"]),
    "/users/{user_id}/deactivate": lambda c, r, b: c.deactivate(_user_id(r)),
    "/faults": lambda c, r, b: c.faults.set_rates(
        error_rate=b.get("error_rate"),
        drop_rate=b.get("drop_rate"),
        delay=b.get("delay"),
        delay_rate=b.get("delay_rate"),
    ),
    "/faults/next": lambda c, r, b: c.faults.fail_next(
        b.get("method"),
        int(b.get("count", 1)),
        chat_id=b.get("chat_id"),
        error=(int(b["error_code"]), str(b["description"])) if "error_code" in b else None,
        drop=bool(b.get("drop", False)),
        delay=b.get("delay"),
        after=bool(b.get("after", False)),
        skip=int(b.get("skip", 0)),
    ),
    "/faults/clear": lambda c, r, b: c.faults.clear(),
    "/limits": lambda c, r, b: c.set_limits(TelegramLimits(**b)),
}

_GET: dict[str, Action] = {
    "/chats/{chat_id}/transcript": lambda c, r, b: c.transcript(
        _chat_id(r),
        bot=r.query.get("bot"),
        include_deleted=r.query.get("deleted", "") in ("1", "true"),
    ),
    "/requests": lambda c, r, b: c.requests(r.query.get("method")),
    "/bots/{bot}/updates": lambda c, r, b: list(c.pending_updates(r.match_info["bot"])),
}


def _wrap(control: TelegramControl, action: Action) -> Callable[[web.Request], Awaitable[Any]]:
    async def handler(request: web.Request) -> web.Response:
        body: Body = {}
        if request.method == "POST" and request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"ok": False, "error": "body is not JSON"}, status=400)
        try:
            result = action(control, request, body)
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True, "result": _out(result)})

    return handler


def add_control_routes(app: web.Application, control: TelegramControl) -> None:
    """Add every control route (and the SSE event stream) to ``app``."""
    for path, action in _POST.items():
        app.router.add_post(PREFIX + path, _wrap(control, action))
    for path, action in _GET.items():
        app.router.add_get(PREFIX + path, _wrap(control, action))

    async def events(request: web.Request) -> web.StreamResponse:
        stream = control.events()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        response.headers["Cache-Control"] = "no-cache"
        await response.prepare(request)
        try:
            async for event in stream:
                data = json.dumps(event.to_dict())
                await response.write(f"event: {event.kind}\ndata: {data}\n\n".encode())
        except ConnectionResetError:
            log.debug("event stream reader went away")
        finally:
            stream.close()
        return response

    app.router.add_get(PREFIX + "/events", events)

    async def file(request: web.Request) -> web.Response:
        # Uploaded bytes, for a live view that shows the photos the bot sent.
        data = control.world.files.get(request.match_info["file_id"])
        if not data:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="application/octet-stream")

    app.router.add_get(PREFIX + "/files/{file_id}", file)
