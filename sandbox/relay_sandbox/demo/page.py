"""The demo page's routes: the page, its live event stream and the sample photos.

The page's editor is the editors' desk itself (`relay.desk`, mounted on the same port as under
`relay run`), in a frame: `/demo/desk` signs the demo's editor in and opens it, so that a
visitor composes, previews, publishes, edits and deletes exactly as a newsroom's editor does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from relay.desk.routes import Desk
from relay_sandbox.demo import images
from relay_sandbox.demo.feed import Feed

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class PageContext:
    """What the page's handlers read: the feed, the platforms shown and the desk."""

    feed: Feed
    platforms: tuple[str, ...]
    desk: Desk
    editor: str  # the desk's editor the page signs in as


PAGE_KEY: web.AppKey[PageContext] = web.AppKey("demo_page", PageContext)


def meta(context: PageContext) -> dict[str, Any]:
    return {"platforms": sorted(context.platforms)}


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def photo(request: web.Request) -> web.Response:
    try:
        body = images.image(request.match_info["name"])
    except KeyError:
        raise web.HTTPNotFound() from None
    return web.Response(body=body, content_type="image/png",
                        headers={"Cache-Control": "max-age=3600"})  # fmt: skip


async def state(request: web.Request) -> web.Response:
    context = request.app[PAGE_KEY]
    return web.json_response({**context.feed.snapshot(), **meta(context)})


async def desk(request: web.Request) -> web.StreamResponse:
    """The desk, signed in as the demo's editor (no password to type in a local demo)."""
    context = request.app[PAGE_KEY]
    raise await context.desk.open_session(context.editor)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: first the whole state, then every change as it happens."""
    context = request.app[PAGE_KEY]
    queue = context.feed.listen()  # before the snapshot: nothing falls between the two
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    try:
        await _send(response, {**context.feed.snapshot(), **meta(context)})
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event is None:
                break
            await _send(response, event)
    except ConnectionResetError:
        log.debug("page event stream closed")
    finally:
        context.feed.unlisten(queue)
    return response


async def _send(response: web.StreamResponse, event: dict[str, Any]) -> None:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    await response.write(f"data: {data}\n\n".encode())


def add_routes(app: web.Application, context: PageContext) -> None:
    """Mount the page on `app` (which also serves the sandboxes and the relay's API)."""
    app[PAGE_KEY] = context
    app.router.add_get("/", index)
    app.router.add_get("/demo/state", state)
    app.router.add_get("/demo/events", events)
    app.router.add_get("/demo/desk", desk)
    app.router.add_get("/demo/images/{name}.png", photo)
    app.router.add_static("/demo/static/", STATIC)
