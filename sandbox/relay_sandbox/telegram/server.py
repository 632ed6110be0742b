"""``TelegramSandbox``: the Bot API emulator served by aiohttp, plus PTB wiring helpers."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiohttp import web

from relay_sandbox.telegram import api_bot, api_edits, api_messages
from relay_sandbox.telegram.control import TelegramControl
from relay_sandbox.telegram.control_http import add_control_routes
from relay_sandbox.telegram.core import Engine, RequestRecord
from relay_sandbox.telegram.errors import ApiError, not_found, unauthorized
from relay_sandbox.telegram.faults import Fault
from relay_sandbox.telegram.limits import Clock, TelegramLimits
from relay_sandbox.telegram.methods import lookup
from relay_sandbox.telegram.records import Bot
from relay_sandbox.telegram.request import ApiCall, UploadedFile, read_body, validate

if TYPE_CHECKING:
    from telegram import Bot as PtbBot
    from telegram.ext import ApplicationBuilder

log = logging.getLogger(__name__)

Handler = Callable[[Engine, Bot, ApiCall], Any]
HANDLERS: dict[str, Handler] = {
    "getme": api_bot.get_me,
    "logout": api_bot.ok,
    "close": api_bot.ok,
    "setwebhook": api_bot.set_webhook,
    "deletewebhook": api_bot.delete_webhook,
    "getwebhookinfo": api_bot.get_webhook_info,
    "getupdates": api_bot.get_updates,
    "setmycommands": api_bot.set_my_commands,
    "getmycommands": api_bot.get_my_commands,
    "deletemycommands": api_bot.delete_my_commands,
    "getchat": api_bot.get_chat,
    "getfile": api_bot.get_file,
    "getchatmember": api_bot.get_chat_member,
    "getchatadministrators": api_bot.get_chat_administrators,
    "answercallbackquery": api_bot.answer_callback_query,
    "sendmessage": api_messages.send_message,
    "sendphoto": api_messages.send_photo,
    "sendmediagroup": api_messages.send_media_group,
    "editmessagetext": api_edits.edit_message_text,
    "editmessagecaption": api_edits.edit_message_caption,
    "editmessagemedia": api_edits.edit_message_media,
    "deletemessage": api_messages.delete_message,
    "pinchatmessage": api_messages.pin_chat_message,
    "unpinchatmessage": api_messages.unpin_chat_message,
}
# The real server's token check: "<bot id>:<secret>"; anything else is 404 Not Found.
_TOKEN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{1,255}")


class _Dropped(Exception):
    """The answer is withheld: the connection is closed instead."""


class TelegramSandbox:
    """The emulated Bot API server: ``async with TelegramSandbox() as tg: tg.base_url``."""

    def __init__(
        self,
        *,
        limits: TelegramLimits | None = None,
        clock: Clock = time.monotonic,
        seed: int | None = 0,
        strict: bool = True,
        request_log_size: int = 100_000,
    ) -> None:
        self.engine = Engine(
            limits=limits,
            clock=clock,
            seed=seed,
            strict=strict,
            request_log_size=request_log_size,
        )
        self.control = TelegramControl(self.engine)
        self.app = web.Application()
        self.add_routes(self.app)
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        """Mount the Bot API and the control API on ``app`` (for a combined server)."""
        app.router.add_route("*", r"/bot{token:[^/]*}/{method:.*}", self._handle)
        app.router.add_get(r"/file/bot{token:[^/]*}/{path:.*}", self._download)
        add_control_routes(app, self.control)
        app.on_shutdown.append(self._on_shutdown)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` (0 = a free port)."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host, self.port = host, int(self._runner.addresses[0][1])
        log.info("telegram sandbox listening on %s", self.url)

    async def aclose(self) -> None:
        """Release long polls, stop webhook delivery and stop serving."""
        await self.engine.aclose()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.engine.aclose()

    async def __aenter__(self) -> TelegramSandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What PTB's ``base_url`` takes: the token is appended to it."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """What PTB's ``base_file_url`` takes."""
        return f"{self.url}/file/bot"

    # --- the Bot API -------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        started = self.engine.clock()
        method_name = request.match_info["method"]
        bot: Bot | None = None
        params: dict[str, Any] = {}
        fault: Fault | None = None
        took_effect = ""  # noted in the log when a fault hides a call that succeeded
        try:
            token = request.match_info["token"]
            if not _TOKEN.fullmatch(token):
                raise not_found()
            bot = self.engine.world.bots.get(token)
            if bot is None:
                raise unauthorized()
            method = lookup(method_name)
            if method is None or method.name.lower() not in HANDLERS:
                raise not_found()
            method_name = method.name
            raw, files = await read_body(request)
            params = _loggable(raw, files)
            fault = self.engine.faults.pick(method.name, raw.get("chat_id"))
            if fault is not None and not fault.after:
                await self._apply(fault, request)
            call = validate(method, raw, files, strict=self.engine.strict)
            outcome = HANDLERS[method.name.lower()](self.engine, bot, call)
            result = await outcome if inspect.isawaitable(outcome) else outcome
            if fault is not None and fault.after:
                took_effect = " (after the call took effect)"
                await self._apply(fault, request)
            self._log(method_name, bot, params, 200, None, started)
            return web.json_response({"ok": True, "result": result})
        except _Dropped:
            dropped = "connection dropped" + took_effect
            self._log(method_name, bot, params, 0, dropped, started)
            return _drop(request)
        except ApiError as exc:
            self._log(method_name, bot, params, exc.code, exc.description + took_effect, started)
            return web.json_response(exc.body(), status=exc.code, headers=exc.headers())

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """The file server: a file's bytes at the `file_path` getFile gave, for its bot."""
        if self.engine.world.bots.get(request.match_info["token"]) is None:
            raise web.HTTPUnauthorized()
        path = request.match_info["path"]
        for file_id, data in self.engine.world.files.items():
            if api_bot.file_path(file_id) == path and data:
                return web.Response(body=data, content_type="image/jpeg")
        raise web.HTTPNotFound()

    async def _apply(self, fault: Fault, request: web.Request) -> None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.kind == "drop":
            raise _Dropped
        if fault.kind == "error" and fault.error is not None:
            raise ApiError(fault.error.code, fault.error.description, fault.error.parameters)

    def _log(
        self,
        method: str,
        bot: Bot | None,
        params: dict[str, Any],
        status: int,
        description: str | None,
        started: float,
    ) -> None:
        bot_id = bot.id if bot else None
        record = RequestRecord(method, bot_id, params, status, description, started)
        self.engine.requests.append(record)
        log.debug("%s bot=%s status=%s %s", method, bot_id, status, description or "")


def _loggable(raw: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
    out = dict(raw)
    for name, upload in files.items():
        out[name] = {"file": upload.filename, "size": len(upload.data)}
    return out


def _drop(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)


def ptb_bot(sandbox: TelegramSandbox, token: str, **kwargs: Any) -> PtbBot:
    """A python-telegram-bot ``Bot`` talking to the sandbox."""
    from telegram import Bot as PtbBot

    return PtbBot(token, base_url=sandbox.base_url, base_file_url=sandbox.base_file_url, **kwargs)


def ptb_application_builder(
    sandbox: TelegramSandbox, token: str
) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """An ``ApplicationBuilder`` with token, base_url and base_file_url set for the sandbox."""
    from telegram.ext import ApplicationBuilder

    return (
        ApplicationBuilder()
        .token(token)
        .base_url(sandbox.base_url)
        .base_file_url(sandbox.base_file_url)
    )


__all__ = ["HANDLERS", "TelegramSandbox", "ptb_application_builder", "ptb_bot"]
