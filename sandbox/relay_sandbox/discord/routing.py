"""Serves the endpoint table: auth, faults, rate limits, body parsing, errors, request log."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from relay_sandbox.discord import errors
from relay_sandbox.discord.endpoints import ENDPOINTS, Endpoint
from relay_sandbox.discord.faults import Faults
from relay_sandbox.discord.ratelimit import RateLimiter, Verdict, bucket_hash
from relay_sandbox.discord.state import Application, World
from relay_sandbox.discord.transcript import RequestRecord

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"


@dataclass
class Call:
    """One parsed REST request handed to an endpoint handler."""

    request: web.Request
    endpoint: Endpoint
    params: dict[str, str]
    app: Application | None
    body: Any
    files: list[dict[str, Any]] = field(default_factory=list)

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except (KeyError, ValueError):
            raise errors.not_found() from None

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.query.get(name, default)


Handler = Callable[[Call], Awaitable[tuple[int, Any]]]


def _major(endpoint: Endpoint, params: dict[str, str]) -> str:
    # Top-level resources are counted independently (DDOCS rate-limits.mdx).
    for key in ("channel_id", "guild_id", "interaction_id"):
        if key in params:
            return params[key]
    if "webhook_id" in params:
        return f"{params['webhook_id']}+{params.get('webhook_token', '')}"
    return params.get("application_id", "")


async def _parse_body(request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
    if request.method in ("GET", "DELETE") or not request.can_read_body:
        return {}, []
    ctype = request.content_type
    if ctype == "multipart/form-data":
        body: Any = {}
        files: list[dict[str, Any]] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                body = _json(await part.text())
            elif part.filename:
                data = await part.read()
                files.append({"name": part.name, "filename": part.filename, "size": len(data)})
            elif part.name:
                body[part.name] = await part.text()
        return body, files
    raw = await request.text()
    if not raw:
        return {}, []
    if ctype == "application/x-www-form-urlencoded":
        return dict(await request.post()), []
    return _json(raw), []


def json_response(data: Any, *, status: int, headers: dict[str, str]) -> web.Response:
    """Exactly `Content-Type: application/json`: discord.py compares the header verbatim."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={**headers, "Content-Type": "application/json"},
    )


def _json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise errors.ApiError(400, 50109, "The request body contains invalid JSON.") from None


class Router:
    """Wraps every handler of the endpoint table with Discord's request pipeline."""

    def __init__(
        self,
        world: World,
        limiter: RateLimiter,
        faults: Faults,
        handlers: dict[str, Handler],
        log_limit: int = 100_000,
    ) -> None:
        self.world = world
        self.limiter = limiter
        self.faults = faults
        self.handlers = handlers
        self.log: deque[RequestRecord] = deque(maxlen=log_limit)  # the newest requests

    def add_routes(self, app: web.Application) -> None:
        for ep in ENDPOINTS:
            if ep.name in self.handlers:
                app.router.add_route(ep.method, API_PREFIX + ep.template, self._wrap(ep))

    def _wrap(self, ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.serve(ep, request)

        return handle

    def _auth(self, ep: Endpoint, request: web.Request) -> Application | None:
        header = request.headers.get("Authorization", "")
        app = (
            self.world.app_for_token(header.removeprefix("Bot "))
            if header.startswith("Bot ")
            else None
        )
        if ep.auth == "bot" and app is None:
            raise errors.unauthorized()
        return app

    async def serve(self, ep: Endpoint, request: web.Request) -> web.StreamResponse:
        params = dict(request.match_info)
        app: Application | None = None
        body: Any = None
        verdict: Verdict | None = None
        try:
            app = self._auth(ep, request)
            channel = params.get("channel_id")
            decision = self.faults.decide(
                ep.name, int(channel) if channel and channel.isdigit() else None
            )
            if decision.drop and request.transport is not None:
                request.transport.abort()  # the client sees the connection die mid-request
                self._record(request, ep, 0, None, app, None)  # status 0: no answer was sent
                return web.Response(status=503)
            if decision.slow_seconds:
                await asyncio.sleep(decision.slow_seconds)
            if decision.server_error:
                raise errors.ApiError(500, 0, "500: Internal Server Error")
            lose_answer = decision.scripted is not None and decision.scripted.lose_answer
            if decision.scripted is not None and not lose_answer:
                return self._scripted(ep, request, decision.scripted, app)
            verdict = self.limiter.check(
                bot=str(app.id) if app else "",
                bucket=ep.bucket,
                major=_major(ep, params),
                global_limit=ep.global_limit,
            )
            if not verdict.allowed:
                resp = json_response(verdict.body(), status=429, headers=verdict.headers())
                self._record(request, ep, 429, None, app, None)
                return resp
            body, files = await _parse_body(request)
            status, data = await self.handlers[ep.name](Call(request, ep, params, app, body, files))
            if lose_answer and request.transport is not None:
                request.transport.abort()  # it took effect, but the client never hears so
                self._record(request, ep, 0, None, app, body)
                return web.Response(status=503)
        except errors.ApiError as exc:
            headers = verdict.headers() if verdict else {}
            self._record(request, ep, exc.status, exc.code, app, body)
            return json_response(exc.body(), status=exc.status, headers=headers)
        self._record(request, ep, status, None, app, body, files)
        headers = verdict.headers()
        if status == 204:
            return web.Response(status=204, headers=headers)
        return json_response(data, status=status, headers=headers)

    def _scripted(
        self, ep: Endpoint, request: web.Request, f: Any, app: Application | None
    ) -> web.StreamResponse:
        body: dict[str, Any] = {
            "message": f.message or f"{f.status}: scripted failure",
            "code": f.code,
        }
        headers: dict[str, str] = {}
        if f.status == 429:
            retry = f.retry_after if f.retry_after is not None else 1.0
            body = {"message": "You are being rate limited.", "retry_after": retry, "global": False}
            headers = {
                "Retry-After": str(max(1, int(retry + 0.999))),
                "X-RateLimit-Global": "false",
                "X-RateLimit-Scope": "user",
                "X-RateLimit-Bucket": bucket_hash(ep.bucket),
                "Via": "1.1 google",
            }
        self._record(request, ep, f.status, f.code or None, app, None)
        return json_response(body, status=f.status, headers=headers)

    def _record(
        self,
        request: web.Request,
        ep: Endpoint | None,
        status: int,
        code: int | None,
        app: Application | None,
        body: Any,
        files: list[dict[str, Any]] | None = None,
    ) -> None:
        self.log.append(
            RequestRecord(
                at=self.world.clock(),
                method=request.method,
                path=request.path,
                endpoint=ep.name if ep else None,
                status=status,
                code=code,
                bot_id=app.bot_user_id if app else None,
                body=body,
                files=tuple(str(f["filename"]) for f in files or ()),
            )
        )
        log.debug("%s %s -> %s %s", request.method, request.path, status, code or "")
