"""`DiscordSandbox`: the REST API, the gateway and the control API on one aiohttp server."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from relay_sandbox.discord import payloads
from relay_sandbox.discord.control import Control
from relay_sandbox.discord.control_http import add_control_routes
from relay_sandbox.discord.faults import Faults
from relay_sandbox.discord.gateway import GatewayHub
from relay_sandbox.discord.messages import MessageOps
from relay_sandbox.discord.ratelimit import DiscordLimits, RateLimiter
from relay_sandbox.discord.rest import BotApi
from relay_sandbox.discord.routing import API_PREFIX, Router
from relay_sandbox.discord.state import Message, World
from relay_sandbox.discord.transcript import EventBus
from relay_sandbox.discord.webhooks import WebhookApi

log = logging.getLogger(__name__)


class DiscordSandbox:
    """A local Discord: `async with DiscordSandbox() as sb:` then point discord.py at it."""

    def __init__(
        self,
        *,
        limits: DiscordLimits | None = None,
        clock: Callable[[], float] = time.time,
        heartbeat_interval_ms: int = 41250,
        dispatch_messages: bool = True,
        request_log_limit: int = 100_000,
    ) -> None:
        self.world = World(clock)
        self.bus = EventBus()
        self.faults = Faults()
        self.limiter = RateLimiter(limits or DiscordLimits(), clock)
        self.hub = GatewayHub(self.world, self.faults, heartbeat_interval_ms)
        self.dispatch_messages = dispatch_messages
        self.ops = MessageOps(self.world, self.bus, self._notify)
        handlers = {
            **BotApi(self.world, self.ops, self.hub).handlers(),
            **WebhookApi(self.world, self.ops, self.hub).handlers(),
        }
        self.router = Router(self.world, self.limiter, self.faults, handlers, request_log_limit)
        self.control = Control(self.world, self.hub, self.faults, self.bus, self.router.log)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    @property
    def limits(self) -> DiscordLimits:
        return self.limiter.limits

    @limits.setter
    def limits(self, value: DiscordLimits) -> None:
        self.limiter.limits = value

    @property
    def api_base(self) -> str:
        """E.g. "http://127.0.0.1:PORT/api/v10" (for `discord.http.Route.BASE`)."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """E.g. "ws://127.0.0.1:PORT/gateway" (for `DiscordWebSocket.DEFAULT_GATEWAY`)."""
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    def add_routes(self, app: web.Application) -> None:
        """Mount REST, gateway and control routes on an existing aiohttp application."""
        self.router.add_routes(app)
        app.router.add_get("/gateway", self.hub.handle)
        app.router.add_get("/attachments/{id}/{name}", self._cdn)
        add_control_routes(app, self.control)

    async def _cdn(self, request: web.Request) -> web.Response:
        """The CDN: a file a member attached to a command, at its attachment URL."""
        path = f"attachments/{request.match_info['id']}/{request.match_info['name']}"
        data = self.world.cdn.get(path)
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="application/octet-stream")

    def _notify(self, event: str, m: Message) -> None:
        if not self.dispatch_messages or m.flags & (1 << 6):  # ephemeral: only the invoker sees it
            return
        if event == "MESSAGE_DELETE":
            data: dict[str, Any] = {
                "id": str(m.id),
                "channel_id": str(m.channel_id),
                "guild_id": str(m.guild_id),
            }
        else:
            data = payloads.message(self.world, m)
        self.hub.dispatch_message(event, m.guild_id, data)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(client_max_size=25 * 1024 * 1024)
        self.add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        bound = server.sockets[0].getsockname()  # type: ignore[attr-defined]
        self.set_base_url(f"http://{host}:{bound[1]}")
        log.info("discord sandbox listening on %s", self.base_url)

    def set_base_url(self, base_url: str) -> None:
        """Where clients reach this sandbox (also needed when mounted via `add_routes`)."""
        self.base_url = base_url.rstrip("/")
        self.world.cdn_base = self.base_url
        self.hub.url = self.gateway_url

    async def aclose(self) -> None:
        self.bus.close()
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordSandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
