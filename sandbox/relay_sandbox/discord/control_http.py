"""The control API over HTTP (JSON) under `/_sandbox/discord/`, for the demo and other processes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from relay_sandbox.discord import permissions as P
from relay_sandbox.discord.control import Control
from relay_sandbox.discord.faults import FaultRates
from relay_sandbox.discord.invoke import InteractionHandle, InteractionResult
from relay_sandbox.discord.state import NotFoundInState

PREFIX = "/_sandbox/discord"
Route = Callable[[web.Request, dict[str, Any]], Awaitable[Any]]


def _int(value: Any) -> int:
    return int(value)


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        data = {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if "embeds_json" in data:
            data["embeds"] = obj.embeds  # type: ignore[attr-defined]
            del data["embeds_json"]
        return data
    if isinstance(obj, list | tuple):
        return [_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, int) and not isinstance(obj, bool) and obj > 2**53:
        return str(obj)  # snowflakes as strings, as Discord does
    return obj


def add_control_routes(app: web.Application, control: Control) -> None:
    """Register the control routes on `app`."""
    handles: dict[int, InteractionHandle] = {}

    def route(method: str, path: str, fn: Route) -> None:
        async def handler(request: web.Request) -> web.Response:
            body: dict[str, Any] = {}
            if request.can_read_body:
                body = await request.json()
            try:
                result = await fn(request, body)
            except (NotFoundInState, KeyError) as exc:
                return web.json_response({"error": f"not found: {exc}"}, status=404)
            except (ValueError, TypeError, PermissionError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            return web.json_response(_jsonable(result))

        app.router.add_route(method, PREFIX + path, handler)

    def mi(request: web.Request, name: str) -> int:
        return int(request.match_info[name])

    async def create_app(r: web.Request, b: dict[str, Any]) -> Any:
        return control.create_application(
            b.get("name", "relay"), message_content=bool(b.get("message_content"))
        )

    async def create_user(r: web.Request, b: dict[str, Any]) -> Any:
        return {"id": control.create_user(b["username"])}

    async def create_guild(r: web.Request, b: dict[str, Any]) -> Any:
        owner = b.get("owner_id")
        return {
            "id": control.create_guild(
                b.get("name", "newsroom"), owner_id=_int(owner) if owner else None
            )
        }

    async def create_role(r: web.Request, b: dict[str, Any]) -> Any:
        rid = control.create_role(
            mi(r, "gid"),
            b["name"],
            _int(b.get("permissions", 0)),
            mentionable=bool(b.get("mentionable")),
        )
        return {"id": rid}

    async def add_member(r: web.Request, b: dict[str, Any]) -> Any:
        uid = b.get("user_id")
        roles = [_int(x) for x in b.get("roles", [])]
        return {
            "id": control.add_member(
                mi(r, "gid"), _int(uid) if uid else None, roles=roles, name=b.get("name", "reader")
            )
        }

    async def create_channel(r: web.Request, b: dict[str, Any]) -> Any:
        parent = b.get("parent_id")
        cid = control.create_channel(
            mi(r, "gid"), b["name"], type=_int(b.get("type", 0)),
            parent_id=_int(parent) if parent else None, topic=b.get("topic"),
        )  # fmt: skip
        return {"id": cid}

    async def delete_channel(r: web.Request, b: dict[str, Any]) -> Any:
        control.delete_channel(mi(r, "cid"))
        return {"ok": True}

    async def set_overwrite(r: web.Request, b: dict[str, Any]) -> Any:
        control.set_overwrite(
            mi(r, "cid"), mi(r, "target"), type=_int(b.get("type", P.ROLE_OVERWRITE)),
            allow=_int(b.get("allow", 0)), deny=_int(b.get("deny", 0)),
        )  # fmt: skip
        return {"ok": True}

    async def create_webhook(r: web.Request, b: dict[str, Any]) -> Any:
        wid, token = control.create_webhook(mi(r, "cid"), b.get("name", "Captain Hook"))
        return {"id": wid, "token": token}

    async def invite_bot(r: web.Request, b: dict[str, Any]) -> Any:
        perms = b.get("permissions")
        args = {} if perms is None else {"permissions": _int(perms)}
        return {"role_id": control.invite_bot(mi(r, "app"), mi(r, "gid"), **args)}

    async def remove_bot(r: web.Request, b: dict[str, Any]) -> Any:
        control.remove_bot(mi(r, "app"), mi(r, "gid"))
        return {"ok": True}

    async def interact(r: web.Request, b: dict[str, Any]) -> Any:
        common = (_int(b["app_id"]), _int(b["guild_id"]), _int(b["channel_id"]), _int(b["user_id"]))
        kind = b.get("kind", "command")
        if kind == "command":
            h = control.invoke(*common, b["name"], b.get("options"), subcommand=b.get("subcommand"))
        elif kind == "autocomplete":
            h = control.autocomplete(*common, b["name"], b.get("options", {}), b["focused"])
        elif kind == "modal":
            h = control.submit_modal(*common, b["custom_id"], b.get("values", {}))
        else:
            raise ValueError(f"unknown kind {kind!r}")
        handles[h.id] = h
        return {"id": h.id, "token": h.token}

    async def interaction(r: web.Request, b: dict[str, Any]) -> Any:
        h = handles[mi(r, "iid")]
        if r.query.get("wait"):
            timeout = float(r.query.get("timeout", "5"))
            result: InteractionResult = await h.response(timeout)
            return result
        return h.result()

    async def faults(r: web.Request, b: dict[str, Any]) -> Any:
        control.set_faults(FaultRates(**b))
        return {"ok": True}

    async def fail_next(r: web.Request, b: dict[str, Any]) -> Any:
        channel = b.get("channel_id")
        control.fail_next(
            b["endpoint"], status=_int(b["status"]), code=_int(b.get("code", 0)),
            message=b.get("message", ""), count=_int(b.get("count", 1)),
            channel_id=_int(channel) if channel else None, retry_after=b.get("retry_after"),
        )  # fmt: skip
        return {"ok": True}

    async def clear_faults(r: web.Request, b: dict[str, Any]) -> Any:
        control.clear_faults()
        return {"ok": True}

    async def disconnect(r: web.Request, b: dict[str, Any]) -> Any:
        n = await control.disconnect_gateway(
            mi(r, "app"), code=_int(b.get("code", 4000)), resumable=bool(b.get("resumable", True))
        )
        return {"closed": n}

    async def transcript(r: web.Request, b: dict[str, Any]) -> Any:
        return control.transcript(mi(r, "cid"), include_deleted=r.query.get("deleted", "1") == "1")

    async def requests(r: web.Request, b: dict[str, Any]) -> Any:
        return control.requests(r.query.get("endpoint"))

    async def events(request: web.Request) -> web.StreamResponse:
        """Transcript events as server-sent events, one JSON object per event."""
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        await resp.write(b": connected\n\n")
        async for event in control.events():
            line = json.dumps(_jsonable(event))
            try:
                await resp.write(f"event: {event.kind}\ndata: {line}\n\n".encode())
            except ConnectionError:
                break
        return resp

    app.router.add_get(PREFIX + "/events", events)
    route("POST", "/applications", create_app)
    route("POST", "/users", create_user)
    route("POST", "/guilds", create_guild)
    route("POST", "/guilds/{gid}/roles", create_role)
    route("POST", "/guilds/{gid}/members", add_member)
    route("POST", "/guilds/{gid}/channels", create_channel)
    route("PUT", "/guilds/{gid}/bots/{app}", invite_bot)
    route("DELETE", "/guilds/{gid}/bots/{app}", remove_bot)
    route("DELETE", "/channels/{cid}", delete_channel)
    route("PUT", "/channels/{cid}/overwrites/{target}", set_overwrite)
    route("POST", "/channels/{cid}/webhooks", create_webhook)
    route("GET", "/channels/{cid}/transcript", transcript)
    route("POST", "/interactions", interact)
    route("GET", "/interactions/{iid}", interaction)
    route("PUT", "/faults", faults)
    route("DELETE", "/faults", clear_faults)
    route("POST", "/faults/fail-next", fail_next)
    route("POST", "/gateway/{app}/disconnect", disconnect)
    route("GET", "/requests", requests)
