"""The sandbox's control API over HTTP: a bot, its chats and channels, limits, the request log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from .procs import Sandbox

PARALLEL = 32  # control calls in flight at once while building a world (setup is not measured)


async def _each(count: int, make: Callable[[int], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(PARALLEL)

    async def one(i: int) -> Any:
        async with gate:
            return await make(i)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


class Telegram:
    """`/_sandbox/telegram/…` of one sandbox, and one bot of our own in it."""

    def __init__(self, http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
        self.http = http
        self.root = sandbox.telegram_url
        self.token = ""
        self.username = ""

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.root}/_sandbox/telegram{path}"
        async with self.http.request(method, url, json=body) as r:
            data = await r.json()
            if r.status != 200 or not data.get("ok"):
                raise RuntimeError(f"{method} {path}: {r.status} {data}")
            return data["result"]

    async def create_bot(self, username: str) -> str:
        bot = await self.call("POST", "/bots", {"username": username, "first_name": "Bench"})
        self.token, self.username = bot["token"], username
        return self.token

    async def private_chats(self, count: int) -> list[int]:
        """`count` users who each wrote to the bot (so that it may write back), then the
        bot's pending updates confirmed: the relay starts with nothing to answer."""

        async def reader(i: int) -> int:
            user = await self.call("POST", "/users", {"first_name": f"Reader {i}"})
            body = {"user_id": user["id"], "text": "hello", "bot": self.username}
            await self.call("POST", f"/chats/{user['id']}/messages", body)
            return int(user["id"])

        chats = await _each(count, reader)
        await self.drain()
        return chats

    async def groups(self, count: int) -> list[int]:
        owner = await self.call("POST", "/users", {"first_name": "Owner"})

        async def group(i: int) -> int:
            body = {"type": "supergroup", "title": f"Group {i}", "creator": owner["id"]}
            chat = await self.call("POST", "/chats", body)
            await self.call("POST", f"/chats/{chat['id']}/bots", {"bot": self.username})
            return int(chat["id"])

        chats = await _each(count, group)
        await self.drain()
        return chats

    async def drain(self) -> None:
        """Confirm every update the bot has pending (getUpdates with an offset past them)."""
        offset = 0
        while True:
            url = f"{self.root}/bot{self.token}/getUpdates"
            params = {"offset": str(offset), "timeout": "0", "limit": "100"}
            async with self.http.get(url, params=params) as r:
                got = (await r.json())["result"]
            if not got:
                return
            offset = max(u["update_id"] for u in got) + 1

    async def limits(self, **limits: Any) -> None:
        """Set the flood limits (this also forgets what was counted); none given: the real ones."""
        await self.call("POST", "/limits", limits)

    async def requests(self, method: str = "sendMessage") -> list[Sent]:
        rows = await self.call("GET", f"/requests?method={method}")
        return [Sent(r["at"], r["status"], str(r["params"].get("chat_id")),
                     str(r["params"].get("text", ""))) for r in rows]  # fmt: skip


class Discord:
    """`/_sandbox/discord/…`: an application of our own, a guild, its channels."""

    def __init__(self, http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
        self.http = http
        self.root = f"{sandbox.discord_url}/_sandbox/discord"
        self.token = ""

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.request(method, self.root + path, json=body or {}) as r:
            data = await r.json()
            if r.status != 200:
                raise RuntimeError(f"{method} {path}: {r.status} {data}")
            return data

    async def channels(self, count: int) -> list[str]:
        app = await self.call("POST", "/applications", {"name": "bench"})
        self.token = app["token"]
        guild = (await self.call("POST", "/guilds", {"name": "Bench newsroom"}))["id"]
        await self.call("PUT", f"/guilds/{guild}/bots/{app['application_id']}")

        async def channel(i: int) -> str:
            made = await self.call("POST", f"/guilds/{guild}/channels", {"name": f"live-{i}"})
            return str(made["id"])

        return await _each(count, channel)

    async def requests(self) -> list[Sent]:
        """Message creations (POST …/messages) and every 429, in the order answered."""
        rows = await self.call("GET", "/requests")
        wall = time.time() - time.monotonic()  # Discord's sandbox stamps with time.time()
        return [Sent(r["at"] - wall, r["status"], r["path"].split("/")[-2], "")
                for r in rows if r["status"] == 429
                or (r["method"] == "POST" and r["path"].endswith("/messages"))]  # fmt: skip


@dataclass(frozen=True)
class Sent:
    """One request as the sandbox logged it: when it read it, what it answered, to whom."""

    at: float  # the sandbox's time.monotonic(): the same clock as ours on Linux
    status: int
    chat: str
    text: str
