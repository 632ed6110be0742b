"""The HTTP API: update ingest for a CMS (`/v1/updates`), `/healthz` and `/metrics`.

Every error is a JSON body `{"error": "...", "field": "..."}` with a 4xx status; a request
that fails validation changes nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any, Protocol

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from relay import metrics as metrics_mod
from relay import model
from relay.changes import EDITABLE, Changes
from relay.config import Config
from relay.errors import InvalidUpdate, UnknownUpdate
from relay.ingest import Accepted, Ingest
from relay.keys import Keys
from relay.ledger import read_progress

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 256 * 1024


class Relay(Protocol):
    """What the API serves from: a started `relay.app.Relay` (named here so that the API never
    imports the lifecycle that starts it)."""

    config: Config
    consumer: str
    keys: Keys
    client: aioredis.Redis
    ingest: Ingest


RELAY_KEY: web.AppKey[Relay] = web.AppKey("relay")


def _error(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return web.json_response(body, status=status)


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidUpdate("body", "must be a JSON object") from None


def _accepted(accepted: Accepted, status: int) -> web.Response:
    return web.json_response(
        {
            "id": accepted.update.id,
            "revision": accepted.update.revision,
            "action": accepted.update.action.value,
            "entry": accepted.entry_id,
            "duplicate": accepted.duplicate,
        },
        status=200 if accepted.duplicate else status,
    )


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    relay: Relay = request.app[RELAY_KEY]
    token = relay.config.api.token
    if token and request.path.startswith("/v1/"):
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _error(401, "missing or wrong bearer token")
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except InvalidUpdate as exc:
        status = 409 if "already exists" in exc.message else 400
        return _error(status, exc.message, exc.field)
    except UnknownUpdate as exc:
        return _error(404, str(exc), "id")
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")


async def post_update(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    data = await _json(request)
    if isinstance(data, dict) and data.get("action", "publish") != "publish":
        raise InvalidUpdate("action", "POST publishes; use PATCH to edit and DELETE to delete")
    update = model.from_dict(data, generate_id=True)
    return _accepted(await relay.ingest.publish(update), 201)


async def patch_update(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    data = await _json(request)
    if not isinstance(data, dict) or not data:
        raise InvalidUpdate("body", f"must be a JSON object with some of {', '.join(EDITABLE)}")
    changes = Changes.from_dict(data)
    return _accepted(await relay.ingest.edit(request.match_info["id"], changes), 200)


async def delete_update(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    return _accepted(await relay.ingest.delete(request.match_info["id"]), 200)


async def get_update(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    update_id = request.match_info["id"]
    latest = await relay.ingest.latest(update_id)
    if latest is None:
        raise UnknownUpdate(update_id)
    progress = await read_progress(relay.client, relay.keys, update_id)
    body: dict[str, Any] = {"update": model.to_dict(latest), "progress": None}
    if progress is not None:
        body["progress"] = {
            "revision": progress.revision,
            "total": progress.total,
            "delivered": progress.delivered,
            "failed": progress.failed,
            "done": progress.done,
        }
    return web.json_response(body)


async def healthz(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    try:
        async with asyncio.timeout(2):
            await relay.client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return web.json_response({"status": "error", "redis": str(exc)}, status=503)
    return web.json_response({"status": "ok", "redis": "ok", "consumer": relay.consumer})


async def metrics(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    body = await metrics_mod.render(relay.client, relay.keys)
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


def make_app(relay: Relay) -> web.Application:
    """The aiohttp application serving the API for `relay`."""
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY_BYTES)
    app[RELAY_KEY] = relay
    app.router.add_post("/v1/updates", post_update)
    app.router.add_get("/v1/updates/{id}", get_update)
    app.router.add_patch("/v1/updates/{id}", patch_update)
    app.router.add_delete("/v1/updates/{id}", delete_update)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(relay: Relay, stop: asyncio.Event) -> None:
    """Serve the API on the configured address until `stop` is set."""
    runner = web.AppRunner(make_app(relay), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, relay.config.api.host, relay.config.api.port)
    await site.start()
    log.info("api listening on http://%s:%d", relay.config.api.host, relay.config.api.port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
