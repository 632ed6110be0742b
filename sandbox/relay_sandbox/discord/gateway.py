"""The gateway websocket: HELLO, IDENTIFY/READY, heartbeats, RESUME with replay, dispatches."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from relay_sandbox.discord import payloads
from relay_sandbox.discord.faults import Faults
from relay_sandbox.discord.state import (
    GATEWAY_GUILD_MEMBERS,
    GATEWAY_MESSAGE_CONTENT,
    GATEWAY_PRESENCE,
    Application,
    World,
)

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, RESUME, RECONNECT = 0, 1, 2, 3, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11

GUILDS, GUILD_MEMBERS, GUILD_PRESENCES = 1 << 0, 1 << 1, 1 << 8
GUILD_MESSAGES, MESSAGE_CONTENT = 1 << 9, 1 << 15
# Every intent bit Discord defines (0-21, 24-25); anything else is 4013 Invalid intent(s).
VALID_INTENTS = ((1 << 22) - 1) | (1 << 24) | (1 << 25)
PRIVILEGED = {GUILD_MEMBERS: GATEWAY_GUILD_MEMBERS, GUILD_PRESENCES: GATEWAY_PRESENCE}
PRIVILEGED[MESSAGE_CONTENT] = GATEWAY_MESSAGE_CONTENT
# Flags one bit above each switch are the "limited" variants, which also grant the intent.
REPLAY_BUFFER = 5000
SEND_LIMIT, SEND_WINDOW = 120, 60.0  # client frames per connection (DDOCS gateway.mdx)


@dataclass
class Session:
    """A gateway session: survives its connection so the client can RESUME it."""

    id: str
    app_id: int
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    buffer: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    outbox: asyncio.Queue[dict[str, Any] | None] | None = None
    ws: web.WebSocketResponse | None = None

    def sees_guild(self, guild_id: int) -> bool:
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return (guild_id >> 22) % max(count, 1) == shard_id


class GatewayHub:
    """Accepts gateway connections and routes dispatches to the right bots' sessions."""

    def __init__(self, world: World, faults: Faults, heartbeat_interval_ms: int = 41250) -> None:
        self.world = world
        self.faults = faults
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.url = "ws://127.0.0.1/gateway"
        self.sessions: dict[str, Session] = {}
        self.connections: set[web.WebSocketResponse] = set()
        self.identify_count = 0
        self.down = False  # an outage: new connections are refused (503) until it ends
        self._tasks: set[asyncio.Future[bool]] = set()

    # -- dispatching --------------------------------------------------------------------------

    def _sessions_of(self, app_id: int) -> list[Session]:
        return [s for s in self.sessions.values() if s.app_id == app_id]

    def dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.buffer.append(frame)
        if session.outbox is not None:
            if self.faults.gateway_drop() and session.ws is not None:
                self._close_soon(session.ws, 4000, b"Unknown error")
                return
            session.outbox.put_nowait(frame)

    def dispatch_app(self, app_id: int, event: str, data: dict[str, Any]) -> None:
        for s in self._sessions_of(app_id):
            self.dispatch(s, event, data)

    def dispatch_guild(
        self, guild_id: int, event: str, data: dict[str, Any], intent: int = GUILDS
    ) -> None:
        """Send to every bot in the guild whose intents include `intent`."""
        guild = self.world.guilds.get(guild_id)
        for s in list(self.sessions.values()):
            app = self.world.apps.get(s.app_id)
            if app is None or guild is None or app.bot_user_id not in guild.members:
                continue
            if s.intents & intent and s.sees_guild(guild_id):
                self.dispatch(s, event, data)

    def dispatch_message(self, event: str, guild_id: int, data: dict[str, Any]) -> None:
        """MESSAGE_* to bots with GUILD_MESSAGES; content hidden without MESSAGE_CONTENT."""
        guild = self.world.guilds.get(guild_id)
        if guild is None:
            return
        for s in list(self.sessions.values()):
            app = self.world.apps.get(s.app_id)
            if (
                app is None
                or app.bot_user_id not in guild.members
                or not s.intents & GUILD_MESSAGES
            ):
                continue
            out = data
            author = (data.get("author") or {}).get("id")
            mentioned = any(u.get("id") == str(app.bot_user_id) for u in data.get("mentions", []))
            hidden = event != "MESSAGE_DELETE" and not s.intents & MESSAGE_CONTENT
            if hidden and author != str(app.bot_user_id) and not mentioned:
                out = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            if s.sees_guild(guild_id):
                self.dispatch(s, event, out)

    def _close_soon(self, ws: web.WebSocketResponse, code: int, reason: bytes) -> None:
        task = asyncio.ensure_future(ws.close(code=code, message=reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- control ------------------------------------------------------------------------------

    async def disconnect(self, app_id: int, *, code: int = 4000, resumable: bool = True) -> int:
        """Close the app's connections; unless resumable, forget the sessions too."""
        closed = 0
        for s in self._sessions_of(app_id):
            if s.ws is not None and not s.ws.closed:
                await s.ws.close(code=code, message=b"sandbox disconnect")
                closed += 1
            if not resumable:
                self.sessions.pop(s.id, None)
        return closed

    def send_reconnect(self, app_id: int) -> None:
        for s in self._sessions_of(app_id):
            if s.outbox is not None:
                s.outbox.put_nowait({"op": RECONNECT, "d": None})

    async def close_all(self) -> None:
        for ws in list(self.connections):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"sandbox closing")

    # -- the connection -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        if self.down:
            raise web.HTTPServiceUnavailable(text="gateway unavailable")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.connections.add(ws)
        outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        writer = asyncio.create_task(self._writer(ws, outbox))
        outbox.put_nowait({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        session: Session | None = None
        window_start, sent = self.world.clock(), 0
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue  # clients never need to send binary frames
                now = self.world.clock()
                if now - window_start >= SEND_WINDOW:
                    window_start, sent = now, 0
                sent += 1
                if sent > SEND_LIMIT:
                    await ws.close(code=4008, message=b"Rate limited.")
                    break
                try:
                    frame = json.loads(msg.data)
                    op = frame["op"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                if op == HEARTBEAT:
                    outbox.put_nowait({"op": HEARTBEAT_ACK, "d": None})
                elif op == IDENTIFY:
                    if session is not None:
                        await ws.close(code=4005, message=b"Already authenticated.")
                        break
                    session = await self._identify(ws, outbox, frame.get("d") or {})
                    if session is None:
                        break
                elif op == RESUME:
                    session = self._resume(ws, outbox, frame.get("d") or {})
                elif session is None:
                    await ws.close(code=4003, message=b"Not authenticated.")
                    break
                elif op == REQUEST_MEMBERS:
                    self._members_chunk(session, frame.get("d") or {})
                elif op not in (PRESENCE, 4):
                    await ws.close(code=4001, message=b"Unknown opcode.")
                    break
        finally:
            if session is not None and session.ws is ws:
                session.ws = None
                session.outbox = None
            outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await writer
            self.connections.discard(ws)
        return ws

    async def _writer(
        self, ws: web.WebSocketResponse, outbox: asyncio.Queue[dict[str, Any] | None]
    ) -> None:
        # One writer per connection keeps frames in sequence order.
        while (frame := await outbox.get()) is not None:
            if ws.closed:
                return
            try:
                await ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                return

    async def _identify(
        self,
        ws: web.WebSocketResponse,
        outbox: asyncio.Queue[dict[str, Any] | None],
        d: dict[str, Any],
    ) -> Session | None:
        self.identify_count += 1
        app = self.world.app_for_token(str(d.get("token", "")).removeprefix("Bot "))
        if app is None:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = d.get("intents")
        if not isinstance(intents, int) or intents & ~VALID_INTENTS or intents < 0:
            await ws.close(code=4013, message=b"Invalid intent(s).")
            return None
        for intent, flag in PRIVILEGED.items():
            if intents & intent and not app.flags & (flag | flag << 1):
                await ws.close(code=4014, message=b"Disallowed intent(s).")
                return None
        shard = d.get("shard")
        session = Session(
            id=secrets.token_hex(16),
            app_id=app.id,
            intents=intents,
            shard=(int(shard[0]), int(shard[1])) if isinstance(shard, list) else None,
            outbox=outbox,
            ws=ws,
        )
        self.sessions[session.id] = session
        self.dispatch(session, "READY", self._ready(app, session))
        for guild in self.world.bot_guilds(app):
            if session.sees_guild(guild.id):
                self.dispatch(session, "GUILD_CREATE", payloads.guild_create(self.world, guild))
        log.debug("gateway app=%s session=%s identified", app.id, session.id)
        return session

    def _ready(self, app: Application, session: Session) -> dict[str, Any]:
        bot = payloads.user(self.world.users[app.bot_user_id])
        bot.update(verified=True, mfa_enabled=False, flags=0, email=None)
        data: dict[str, Any] = {
            "v": 10,
            "user": bot,
            "guilds": [
                {"id": str(g.id), "unavailable": True}
                for g in self.world.bot_guilds(app)
                if session.sees_guild(g.id)
            ],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.url,
            "application": {"id": str(app.id), "flags": app.flags},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "guild_join_requests": [],
        }
        if session.shard is not None:
            data["shard"] = list(session.shard)
        return data

    def _resume(
        self,
        ws: web.WebSocketResponse,
        outbox: asyncio.Queue[dict[str, Any] | None],
        d: dict[str, Any],
    ) -> Session | None:
        session = self.sessions.get(str(d.get("session_id")))
        app = self.world.app_for_token(str(d.get("token", "")).removeprefix("Bot "))
        seq = d.get("seq") or 0
        oldest = session.buffer[0]["s"] if session and session.buffer else 1
        if session is None or app is None or app.id != session.app_id or seq + 1 < oldest:
            outbox.put_nowait({"op": INVALID_SESSION, "d": False})
            return None
        if session.ws is not None and session.ws is not ws and not session.ws.closed:
            self._close_soon(session.ws, 4000, b"Session resumed elsewhere")
        session.ws, session.outbox = ws, outbox
        for frame in session.buffer:
            if frame["s"] > seq:
                outbox.put_nowait(frame)
        self.dispatch(session, "RESUMED", {})
        return session

    def _members_chunk(self, session: Session, d: dict[str, Any]) -> None:
        guild = self.world.guilds.get(int(d.get("guild_id") or 0))
        if guild is None:
            return
        members = [payloads.member(self.world, m) for m in guild.members.values()]
        chunk = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        self.dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)
