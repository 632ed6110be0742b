"""The editors' desk: a web page served by `relay run` beside the HTTP API (`desk.enabled`).

Editors sign in with a name and password (`desk.editors`, scrypt hashes), then compose with a
live Telegram and Discord preview (rendered by the running adapters), publish, follow each
update's delivery progress and edit or delete it. Every change goes through `Ingest` exactly as
`/v1/updates` does (same validation, same JSON errors, from the API's middleware), with the
editor's name as the update's `author`.

Under the configured path (`/desk`): `GET /` the page (or a redirect to `signin`), `GET|POST
/signin`, `POST /signout`, the page's JSON calls under `/api/` (`session`, `preview`,
`updates`, and `photos`: a photo uploaded into the media store, `relay.media`), and `GET
/media/<id>`, a stored photo for the preview. Sessions live in Redis (`relay.desk.store`); the
cookie is HttpOnly and SameSite=Strict (and Secure with `desk.secure_cookie`). Each
state-changing request carries the session's CSRF token (header `X-CSRF-Token`, or form field
`csrf`) and, when the browser sends one, an `Origin` of this host; else 403. A signed-out call
gets 401.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import html
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from aiohttp import web

from relay import api_schedule, model, passwords
from relay.bodies import json_object
from relay.changes import Changes
from relay.config import Config
from relay.desk import preview
from relay.desk.store import RECENT_CAP, DeskStore, Session
from relay.errors import InvalidUpdate
from relay.ingest import Accepted, Ingest
from relay.keys import Keys
from relay.ledger import read_progress
from relay.media import MB, NOT_A_PHOTO, TOO_BIG, MediaRefused, MediaStore, photo_type, ref
from relay.schedule import Schedule, parse_time

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "relay_desk"
CSRF_HEADER = "X-CSRF-Token"
CONCURRENT_CHECKS = 2  # password hashes computed at once (each 16 MiB and ~50 ms of one core)


class Relay(Protocol):
    """What the desk serves from (a started `relay.app.Relay`)."""

    config: Config
    keys: Keys
    client: aioredis.Redis
    ingest: Ingest
    schedule: Schedule
    media: MediaStore

    @property
    def adapters(self) -> Sequence[Any]:
        """The started adapters: those that render preview the update."""


class Desk:
    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.config = relay.config.desk
        self.path = self.config.path
        self.checking = asyncio.Semaphore(CONCURRENT_CHECKS)

    @functools.cached_property
    def store(self) -> DeskStore:  # on first use: the relay may be mounted before it connects
        relay = self.relay
        return DeskStore(relay.client, relay.keys, self.config.session_minutes * 60)

    # --- sessions ------------------------------------------------------------------------

    async def _session(self, request: web.Request) -> Session | None:
        return await self.store.session(request.cookies.get(COOKIE, ""))

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is None or urlsplit(origin).netloc == request.host

    async def _editor(self, request: web.Request, csrf: str | None) -> Session:
        """The signed-in session of `request`; 401 when there is none, 403 when a change comes
        without the session's CSRF token (`csrf`, None for a read) or from another origin."""
        session = await self._session(request)
        if session is None:
            raise web.HTTPUnauthorized(reason="signed out (the session expired or ended): sign in")
        if request.method not in ("GET", "HEAD"):
            given = (csrf or "").encode("utf-8", "surrogatepass")
            if not self._same_origin(request) or not hmac.compare_digest(
                given, session.csrf.encode()
            ):
                raise web.HTTPForbidden(reason="missing or wrong CSRF token: reload the page")
        return session

    async def _api_editor(self, request: web.Request) -> Session:
        return await self._editor(request, request.headers.get(CSRF_HEADER))

    # --- pages -----------------------------------------------------------------------------

    async def root(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{self.path}/")

    async def index(self, request: web.Request) -> web.StreamResponse:
        if await self._session(request) is None:
            raise web.HTTPSeeOther(f"{self.path}/signin")
        return web.FileResponse(STATIC / "index.html", headers=_NO_STORE)

    def _signin_page(self, message: str, status: int = 200) -> web.Response:
        text = (STATIC / "signin.html").read_text(encoding="utf-8")
        text = text.replace("{message}", html.escape(message)).replace("{path}", self.path)
        return web.Response(text=text, status=status, content_type="text/html", headers=_NO_STORE)

    async def signin_form(self, request: web.Request) -> web.StreamResponse:
        expired = "Your session expired: sign in again." if "expired" in request.query else ""
        return self._signin_page(expired)

    async def signin(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            return self._signin_page("Sign in from this desk's own page.", 403)
        form = await request.post()
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        if await self.store.attempt(name) > self.config.max_failures:
            log.warning("desk: sign-in refused for %r: too many wrong passwords", name[:100])
            page = self._signin_page("Too many wrong passwords for this name: wait a minute.", 429)
            page.headers["Retry-After"] = "60"
            return page
        editor = self.config.editor(name)
        encoded = editor.password_hash if editor else passwords.dummy()
        async with self.checking:  # a flood of sign-ins queues here, not on every core
            matches = await asyncio.to_thread(passwords.verify, password, encoded)
        if editor is None or not matches:
            log.warning("desk: wrong name or password for %r", name[:100])
            return self._signin_page("Wrong name or password.", 401)
        await self.store.forget_failures(name)
        raise await self.open_session(editor.name)

    async def open_session(self, editor: str) -> web.HTTPSeeOther:
        """A new session for `editor` (whose password was checked): the redirect to the page,
        with the session's cookie."""
        token, _ = await self.store.open(editor)
        log.info("desk: %s signed in", editor)
        response = web.HTTPSeeOther(f"{self.path}/")
        response.set_cookie(
            COOKIE, token, path=self.path, httponly=True, samesite="Strict",
            secure=self.config.secure_cookie, max_age=int(self.config.session_minutes * 60),
        )  # fmt: skip
        return response

    async def signout(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if await self._session(request) is None:  # already signed out (expired): nothing to end
            raise web.HTTPSeeOther(f"{self.path}/signin")
        session = await self._editor(request, str(form.get("csrf", "")))
        await self.store.close(request.cookies.get(COOKIE, ""))
        log.info("desk: %s signed out", session.editor)
        response = web.HTTPSeeOther(f"{self.path}/signin")
        response.del_cookie(COOKIE, path=self.path)
        raise response

    # --- the page's JSON calls -------------------------------------------------------------

    async def session(self, request: web.Request) -> web.Response:
        session = await self._api_editor(request)
        config = self.relay.config
        topics = [{"slug": t.slug, "title": t.title, "color": f"#{t.color:06x}"}
                  for t in config.topics]  # fmt: skip
        return web.json_response(
            {"editor": session.editor, "csrf": session.csrf, "path": self.path,
             "topics": topics, "platforms": sorted(preview.renderers(self.relay.adapters))},
            headers=_NO_STORE,
        )  # fmt: skip

    async def preview(self, request: web.Request) -> web.Response:
        session = await self._api_editor(request)
        data = {**await json_object(request), "author": session.editor}
        data.pop("publish_at", None)  # when it goes does not change how it looks
        shown = preview.render(self.relay.config, self.relay.adapters, data)
        return web.json_response(preview.stored_photos_from(shown, f"{self.path}/media/"))

    async def upload(self, request: web.Request) -> web.Response:
        """A photo from the editor's computer (the request's body, as sent) into the media
        store: its image URL, for the update's `image.url`. Refused with the field `image`."""
        await self._api_editor(request)
        limit = self.relay.config.media.max_image_mb
        data, size = bytearray(), request.content_length or 0
        if size <= limit * MB:  # read no further than the limit (the body may not say its size)
            async for chunk in request.content.iter_chunked(256 * 1024):
                data += chunk
                if len(data) > limit * MB:
                    break
            size = len(data)
        if size > limit * MB:
            return _refused(413, MediaRefused(TOO_BIG, size=size / MB, limit=limit))
        if photo_type(bytes(data[:16])) is None:
            return _refused(415, MediaRefused(NOT_A_PHOTO))
        try:
            url = await self.relay.media.put(bytes(data))
        except MediaRefused as exc:  # the store is full
            return _refused(507, exc)
        return web.json_response({"url": url, "bytes": len(data)}, status=201)

    async def photo(self, request: web.Request) -> web.Response:
        """A stored photo, for the signed-in editor's preview (the adapters upload it as a file;
        it has no public URL)."""
        await self._api_editor(request)
        data = await self.relay.media.get(ref(request.match_info["id"]))
        kind = photo_type(data[:16]) if data is not None else None
        if data is None or kind is None:
            raise web.HTTPNotFound(reason="no such photo (or no longer kept)")
        cache = {"Cache-Control": "private, max-age=86400"}  # a stored photo never changes
        return web.Response(body=data, content_type=kind, headers=cache)

    async def listed(self) -> list[str]:
        """The updates the desk lists, newest first: every recent publish (the API's, the
        chats', the CLI's, the feeds', the desk's) and what the desk scheduled."""
        when = {
            **dict(await self.store.recent()),
            **dict(await self.relay.ingest.registry.recent()),
        }
        return sorted(when, key=lambda update_id: when[update_id], reverse=True)[:RECENT_CAP]

    async def updates(self, request: web.Request) -> web.Response:
        await self._api_editor(request)
        relay, items = self.relay, []
        for update_id in await self.listed():
            latest = await relay.ingest.latest(update_id)
            if latest is None:  # waiting for its time, or cancelled, or expired from the registry
                if (held := await relay.schedule.get(update_id)) is not None:
                    items.append({"update": model.to_dict(held.update), "progress": None,
                                  "publish_at": held.at.isoformat()})  # fmt: skip
                continue
            progress = await read_progress(relay.client, relay.keys, update_id)
            items.append({
                "update": model.to_dict(latest),
                "progress": progress.as_dict() if progress else None,
                "summary": progress.summary() if progress else "queued…",
            })  # fmt: skip
        return web.json_response({"updates": items}, headers=_NO_STORE)

    async def publish(self, request: web.Request) -> web.Response:
        session = await self._api_editor(request)
        data = await json_object(request)
        if data.get("action", "publish") != "publish":
            raise InvalidUpdate("action", "the desk publishes here; edit and delete the update")
        at = data.pop("publish_at", None)
        update = model.from_dict({**data, "author": session.editor}, generate_id=True)
        if at is not None:  # it waits in the schedule, cancellable until it goes (as the API's)
            held = await self.relay.schedule.add(update, parse_time(at))
            await self.store.remember(held.update.id)
            log.info("desk: %s scheduled %s", session.editor, held.update.id)
            return api_schedule.answer(held, 202)
        accepted = await self.relay.ingest.publish(update)  # listed by the registry
        log.info("desk: %s published %s", session.editor, accepted.update.id)
        return _accepted(accepted, 201)

    async def edit(self, request: web.Request) -> web.Response:
        session = await self._api_editor(request)
        data = await json_object(request)
        data.pop("author", None)  # the author stays who published it
        if not data:
            raise InvalidUpdate("body", "nothing to change")
        update_id = request.match_info["id"]
        if waiting := await api_schedule.patch(self.relay.schedule, update_id, data):
            log.info("desk: %s changed the scheduled %s", session.editor, update_id)
            return waiting
        accepted = await self.relay.ingest.edit(update_id, Changes.from_dict(data))
        log.info("desk: %s edited %s", session.editor, update_id)
        return _accepted(accepted, 200)

    async def delete(self, request: web.Request) -> web.Response:
        session = await self._api_editor(request)
        update_id = request.match_info["id"]
        if cancelled := await api_schedule.delete(self.relay.schedule, update_id):
            log.info("desk: %s cancelled the scheduled %s", session.editor, update_id)
            return cancelled
        accepted = await self.relay.ingest.delete(update_id)
        log.info("desk: %s deleted %s", session.editor, update_id)
        return _accepted(accepted, 200)


_NO_STORE = {"Cache-Control": "no-store"}


def _refused(status: int, refused: MediaRefused) -> web.Response:
    return web.json_response({"error": str(refused), "field": "image"}, status=status)


def _accepted(accepted: Accepted, status: int) -> web.Response:
    update = accepted.update
    body = {"id": update.id, "revision": update.revision, "action": update.action.value,
            "entry": accepted.entry_id, "duplicate": accepted.duplicate}  # fmt: skip
    return web.json_response(body, status=200 if accepted.duplicate else status)


def mount(app: web.Application, relay: Relay) -> Desk:
    """Serve the desk on `app` (the HTTP API's application) under `desk.path`."""
    desk, p = Desk(relay), relay.config.desk.path
    app.router.add_get(p, desk.root)
    app.router.add_get(f"{p}/", desk.index)
    app.router.add_get(f"{p}/signin", desk.signin_form)
    app.router.add_post(f"{p}/signin", desk.signin)
    app.router.add_post(f"{p}/signout", desk.signout)
    app.router.add_get(f"{p}/api/session", desk.session)
    app.router.add_post(f"{p}/api/preview", desk.preview)
    app.router.add_get(f"{p}/api/updates", desk.updates)
    app.router.add_post(f"{p}/api/updates", desk.publish)
    app.router.add_patch(f"{p}/api/updates/{{id}}", desk.edit)
    app.router.add_delete(f"{p}/api/updates/{{id}}", desk.delete)
    app.router.add_post(f"{p}/api/photos", desk.upload)
    app.router.add_get(f"{p}/media/{{id}}", desk.photo)
    app.router.add_static(f"{p}/static/", STATIC)
    return desk
