"""What the desk keeps in Redis: sessions, failed sign-ins per name, and its recent updates.

A session is a random token in the editor's cookie; Redis holds it only as its SHA-256, so a
copy of the data opens no session. It lasts a fixed time from sign-in (`session_minutes`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

from relay.keys import Keys, as_str
from relay.registry import list_in, newest

FAILURE_WINDOW = 60  # seconds over which sign-in attempts per name are counted
RECENT_CAP = 50  # updates the desk lists


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Session:
    editor: str
    csrf: str


class DeskStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, session_seconds: float) -> None:
        self.client = client
        self.keys = keys
        self.session_ms = max(1, int(session_seconds * 1000))

    async def open(self, editor: str) -> tuple[str, Session]:
        """A new session for `editor`: its cookie token and what the server keeps."""
        token = secrets.token_urlsafe(32)
        session = Session(editor, secrets.token_urlsafe(32))
        key = self.keys.desk_session(digest(token))
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"editor": editor, "csrf": session.csrf})
            pipe.pexpire(key, self.session_ms)
            await pipe.execute()
        return token, session

    async def session(self, token: str) -> Session | None:
        """The live session of a cookie's token (None once it expired or was closed)."""
        if not token:
            return None
        raw = await self.client.hgetall(self.keys.desk_session(digest(token)))
        fields = {as_str(k): as_str(v) for k, v in raw.items()}
        if "editor" not in fields or "csrf" not in fields:
            return None
        return Session(fields["editor"], fields["csrf"])

    async def close(self, token: str) -> None:
        await self.client.delete(self.keys.desk_session(digest(token)))

    async def attempt(self, name: str) -> int:
        """Count a sign-in attempt for `name` (before its password is checked, so that parallel
        guesses are counted too); how many in the current window, since the last success."""
        key = self.keys.desk_failures(digest(name))
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, nx=True, ex=FAILURE_WINDOW)  # the window opens at the first
            pipe.incr(key)
            _, count = await pipe.execute()
        return int(count)

    async def forget_failures(self, name: str) -> None:
        await self.client.delete(self.keys.desk_failures(digest(name)))

    async def remember(self, update_id: str) -> None:
        """List `update_id`, scheduled from the desk, among its recent updates (the oldest
        beyond the cap drop): until it goes, no registry lists it."""
        async with self.client.pipeline(transaction=True) as pipe:
            list_in(pipe, self.keys.desk_recent, update_id, RECENT_CAP)
            await pipe.execute()

    async def recent(self) -> list[tuple[str, float]]:
        """The desk's recent update ids, and when it posted or scheduled them (µs), newest
        first."""
        return await newest(self.client, self.keys.desk_recent, RECENT_CAP)
