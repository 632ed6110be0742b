"""Point discord.py at a sandbox (REST base and gateway URL) and run a client against it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import discord
import discord.gateway
import discord.http
import yarl

log = logging.getLogger(__name__)

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.contextmanager
def pointed_at(api_base: str, gateway_url: str) -> Iterator[None]:
    """Patch `Route.BASE` and `DiscordWebSocket.DEFAULT_GATEWAY`; restore them on exit."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


async def start_client(client: ClientT, token: str, *, within: float = 10.0) -> ClientT:
    """Log in, connect in the background and wait until READY (guilds received)."""
    await client.login(token)
    task = asyncio.create_task(client.connect(reconnect=True), name="discord-client-connect")
    client._sandbox_task = task  # type: ignore[attr-defined]
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task in done:
            task.result()  # re-raise why the connection ended
        raise TimeoutError("discord client did not become ready")
    return client


async def stop_client(client: discord.Client) -> None:
    """Close the client and wait for its connection task."""
    await client.close()
    task: asyncio.Task[None] | None = getattr(client, "_sandbox_task", None)
    if task is not None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 5.0)


@contextlib.asynccontextmanager
async def running_client(
    client: ClientT, token: str, *, within: float = 10.0
) -> AsyncIterator[ClientT]:
    """`async with running_client(discord.Client(...), token) as c:` ready inside, closed after."""
    try:
        await start_client(client, token, within=within)
        yield client
    finally:
        await stop_client(client)
