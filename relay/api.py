"""The HTTP API: update ingest for a CMS (`/v1/updates`), `/healthz`, `/readyz`, `/metrics`.

Every error is a JSON body `{"error": "...", "field": "..."}` (`field` when one is to blame):
4xx for a bad request, which changes nothing; 429 or 503 with `Retry-After` when the relay
cannot take the update now; 500, with no detail, for a bug (logged with its traceback).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, RedisError

from relay import api_schedule, logs, model, openapi
from relay import health as health_mod
from relay import metrics as metrics_mod
from relay.bodies import READ_TIMEOUT_KEY
from relay.bodies import json_object as _object
from relay.changes import EDITABLE, Changes
from relay.config import Config
from relay.desk import routes as desk
from relay.errors import ConfigError, InvalidUpdate, Overloaded, RelayError, UnknownUpdate
from relay.ingest import Accepted, Ingest
from relay.keys import Keys
from relay.ledger import read_progress
from relay.media import MediaStore
from relay.schedule import Schedule
from relay.stream import UNREACHABLE

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 256 * 1024
# A client gets this long to send its headers, its body, or its next request on a kept-alive
# connection; a stalled one must not hold a handler (and a connection) for ever.
READ_TIMEOUT = 30.0
# Redis away (or refusing writes): the workers ride it out, so the CMS may retry soon.
UNAVAILABLE = (*UNREACHABLE, ReadOnlyError, OutOfMemoryError)
UNAVAILABLE_RETRY_AFTER = 5


class _MalformedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (the client's fault) at ERROR with a traceback:
    one WARNING line says enough, and a hostile client cannot fill the log with tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            first = exc.message.strip().splitlines()[0] if exc.message.strip() else exc.code
            record.msg, record.args, record.exc_info = "api: malformed request: %s", (first,), None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


HTTP_LOG = logging.getLogger("relay.api.http")  # aiohttp's per-connection log, filtered
HTTP_LOG.addFilter(_MalformedRequests())


class Relay(Protocol):
    """What the API serves from: a started `relay.app.Relay` (named here so that the API never
    imports the lifecycle that starts it)."""

    config: Config
    consumer: str
    keys: Keys
    client: aioredis.Redis
    ingest: Ingest
    schedule: Schedule
    media: MediaStore  # the desk's uploads

    @property
    def parts(self) -> Sequence[str]:
        """The parts `run` started (dispatcher, sender, api, a platform's poller or gateway)."""

    @property
    def failed(self) -> Mapping[str, str]:
        """The parts that died, each with why."""

    @property
    def adapters(self) -> Sequence[health_mod.Reporter]:
        """The started adapters, each able to say whether its platform is connected."""


RELAY_KEY: web.AppKey[Relay] = web.AppKey("relay")


def check_exposure(config: Config) -> None:
    """Refuse to serve the API beyond loopback with no token, unless the config says so."""
    api = config.api
    if not api.enabled or api.token or api.allow_unauthenticated or _loopback(api.host):
        return
    raise ConfigError(
        config.path,
        "api.host",
        f"a loopback address while {api.token_env} is unset: {api.host!r} would let anyone"
        " who reaches it publish (set the token, or api.allow_unauthenticated: true)",
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, or "" (every interface): it may reach beyond this host
        return False


def _authorized(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Compare bytes in constant time; surrogatepass turns any header text into bytes.
    expected = token.encode("utf-8", "surrogatepass")
    matches = hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"), expected)
    return scheme.lower() == "bearer" and matches


def _error(
    status: int, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return web.json_response(body, status=status, headers=headers)


def _accepted(accepted: Accepted, status: int) -> web.Response:
    update = accepted.update
    body = {"id": update.id, "revision": update.revision, "action": update.action.value,
            "entry": accepted.entry_id, "duplicate": accepted.duplicate}  # fmt: skip
    return web.json_response(body, status=200 if accepted.duplicate else status)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    relay: Relay = request.app[RELAY_KEY]
    token = relay.config.api.token
    public = request.path == openapi.PATH  # the document: how to authenticate, no secret
    if token and request.path.startswith("/v1/") and not public and not _authorized(request, token):
        return _error(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except InvalidUpdate as exc:
        status = 409 if "already exists" in exc.message else 400
        return _error(status, exc.message, exc.field)
    except UnknownUpdate as exc:
        return _error(404, str(exc), "id")
    except Overloaded as exc:
        retry = str(max(1, math.ceil(exc.retry_after)))
        return _error(429, str(exc), headers={"Retry-After": retry})
    except web.HTTPException as exc:
        return _http_error(exc)
    except UNAVAILABLE as exc:
        log.warning("api: storage unavailable on %s %s: %s", request.method, request.path, exc)
        retry = str(UNAVAILABLE_RETRY_AFTER)
        return _error(503, "storage unavailable, retry later", headers={"Retry-After": retry})
    except Exception:
        log.exception("api: unexpected error on %s %s", request.method, request.path)
        return _error(500, "internal error")


def _http_error(exc: web.HTTPException) -> web.StreamResponse:
    """aiohttp's own answers (404, 405, 408, 413, 415), as JSON like every other error."""
    if exc.status < 400:
        raise exc
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    if exc.status == 413:
        return _error(413, f"body larger than {MAX_BODY_BYTES} bytes", "body")
    response = _error(exc.status, exc.reason, "body" if exc.status == 408 else None, headers)
    if exc.status == 408:
        response.force_close()  # the rest of the body may never come
    return response


async def post_update(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    data = await _object(request)
    if data.get("action", "publish") != "publish":
        raise InvalidUpdate("action", "POST publishes; use PATCH to edit and DELETE to delete")
    if "publish_at" in data:  # later: it waits in the schedule
        return await api_schedule.post(relay.schedule, data)
    update = model.from_dict(data, generate_id=True)
    return _accepted(await relay.ingest.publish(update), 201)


async def patch_update(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    data = await _object(request)
    if not data:
        raise InvalidUpdate("body", f"must be a JSON object with some of {', '.join(EDITABLE)}")
    if waiting := await api_schedule.patch(relay.schedule, request.match_info["id"], data):
        return waiting
    changes = Changes.from_dict(data)
    return _accepted(await relay.ingest.edit(request.match_info["id"], changes), 200)


async def delete_update(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    if cancelled := await api_schedule.delete(relay.schedule, request.match_info["id"]):
        return cancelled
    return _accepted(await relay.ingest.delete(request.match_info["id"]), 200)


async def get_update(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    update_id = request.match_info["id"]
    latest = await relay.ingest.latest(update_id)
    if latest is None:
        if waiting := await api_schedule.get(relay.schedule, update_id):
            return waiting
        raise UnknownUpdate(update_id)
    progress = await read_progress(relay.client, relay.keys, update_id)
    shown = progress.as_dict() if progress is not None else None
    return web.json_response({"update": model.to_dict(latest), "progress": shown})


async def scheduled(request: web.Request) -> web.Response:
    return await api_schedule.listed(request.app[RELAY_KEY].schedule)


async def healthz(request: web.Request) -> web.Response:
    """200 while every part runs and Redis answers; else 503 saying what is wrong."""
    relay: Relay = request.app[RELAY_KEY]
    body: dict[str, Any] = {"status": "ok", "redis": "ok", "consumer": relay.consumer}
    body["parts"] = {part: relay.failed.get(part, "running") for part in relay.parts}
    try:
        async with asyncio.timeout(2):
            await relay.client.ping()
    except (RedisError, OSError) as exc:
        body.update(status="error", redis=logs.mask(str(exc) or type(exc).__name__))
    if relay.failed:
        failed = {part: logs.mask(reason) for part, reason in relay.failed.items()}
        body.update(status="failed", failed=failed)
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


async def readyz(request: web.Request) -> web.Response:
    """200 while this worker can deliver (Redis, each platform, the stream's lag); else 503."""
    relay: Relay = request.app[RELAY_KEY]
    ready, components = await _readiness(relay)
    ready = ready and not relay.failed
    body = {"ready": ready, "consumer": relay.consumer, "components": components}
    return web.json_response(body, status=200 if ready else 503)


async def _readiness(relay: Relay) -> tuple[bool, dict[str, Any]]:
    max_lag = relay.config.api.ready_max_lag
    return await health_mod.readiness(relay.client, relay.keys, relay.adapters, max_lag)


async def metrics(request: web.Request) -> web.Response:
    relay: Relay = request.app[RELAY_KEY]
    await _readiness(relay)  # the component and lag gauges, as of this scrape
    body = await metrics_mod.render(relay.client, relay.keys)
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


def make_app(relay: Relay, read_timeout: float = READ_TIMEOUT) -> web.Application:
    """The aiohttp application serving the API for `relay`."""
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY_BYTES)
    app[RELAY_KEY] = relay
    app[READ_TIMEOUT_KEY] = read_timeout
    app.router.add_post("/v1/updates", post_update)
    app.router.add_get("/v1/updates/{id}", get_update)
    app.router.add_patch("/v1/updates/{id}", patch_update)
    app.router.add_delete("/v1/updates/{id}", delete_update)
    app.router.add_get("/v1/scheduled", scheduled)
    app.router.add_get(openapi.PATH, openapi.serve)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(relay: Relay, stop: asyncio.Event, read_timeout: float = READ_TIMEOUT) -> None:
    """Serve the API on the configured address until `stop` is set."""
    check_exposure(relay.config)
    host, port = relay.config.api.host, relay.config.api.port
    app = make_app(relay, read_timeout)
    for adapter in relay.adapters:  # an adapter's own routes (Telegram's webhook): no API
        app.router.add_routes(getattr(adapter, "routes", tuple)())
    if relay.config.desk.enabled:  # the editors' web page (relay/desk)
        desk.mount(app, relay)
    runner = web.AppRunner(
        app, access_log=None, shutdown_timeout=read_timeout,
        keepalive_timeout=read_timeout,  # also bounds the wait for a new request's headers
        lingering_time=min(10.0, read_timeout),  # reading what a refused body still sends
        logger=HTTP_LOG,
    )  # fmt: skip
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:  # e.g. the port is taken: one line says it all
            raise RelayError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        log.info("api listening on http://%s:%d", host, port)
        await stop.wait()
    finally:
        await runner.cleanup()
