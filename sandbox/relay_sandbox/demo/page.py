"""The preview page's routes: the page, its live event stream, previews and the sample photos.

The composer posts, edits and deletes through the relay's own HTTP API (`/v1/updates`), served
on the same port, exactly as a CMS would.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from relay.adapter import Adapter
from relay.config import Config
from relay.desk import preview as desk_preview
from relay.desk.routes import STATIC as DESK_STATIC
from relay.errors import InvalidUpdate
from relay_sandbox.demo import images
from relay_sandbox.demo.feed import Feed

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class PageContext:
    """What the page's handlers read: the feed, the config and the adapters that render."""

    feed: Feed
    config: Config
    adapters: Mapping[str, Adapter]


PAGE_KEY: web.AppKey[PageContext] = web.AppKey("demo_page", PageContext)


def meta(context: PageContext) -> dict[str, Any]:
    """The topics and sample photos the composer offers."""
    topics = [{"slug": t.slug, "title": t.title, "color": f"#{t.color:06x}"}
              for t in context.config.topics]  # fmt: skip
    photos = [{"name": n, "label": label, "path": images.path(n)}
              for n, (label, _) in images.SCENES.items()]  # fmt: skip
    return {"topics": topics, "photos": photos, "platforms": sorted(context.adapters)}


def preview(context: PageContext, data: Any) -> dict[str, Any]:
    """An update as every platform would show it, rendered as the desk's preview does."""
    return desk_preview.render(context.config, list(context.adapters.values()), data)


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


async def preview_handler(request: web.Request) -> web.Response:
    context = request.app[PAGE_KEY]
    try:
        data = await request.json()
    except json.JSONDecodeError:
        return web.json_response({"error": "must be a JSON object", "field": "body"}, status=400)
    try:
        return web.json_response(preview(context, data))
    except InvalidUpdate as exc:
        return web.json_response({"error": exc.message, "field": exc.field}, status=400)


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
    app.router.add_post("/demo/preview", preview_handler)
    app.router.add_get("/demo/images/{name}.png", photo)
    app.router.add_static("/demo/static/", STATIC)
    app.router.add_static("/demo/desk/", DESK_STATIC)  # the renderers and styles of the desk
