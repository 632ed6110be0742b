"""discord.py's exceptions translated into the relay's delivery errors.

Unknown Channel 10003, Unknown Guild 10004, Missing Access 50001  → Gone
Missing Permissions 50013                                        → Gone (permission named)
discord.RateLimited (a wait above max_ratelimit_wait)           → RateLimited
a 429 discord.py could not handle (no `Via`: Cloudflare)        → RateLimited (global)
5xx, network errors, timeouts, 20022 (announcement edit limit)  → Transient
any other 4xx                                                   → Rejected, with the code
"""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from relay.errors import DeliveryError, Gone, RateLimited, Rejected, Transient

UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MESSAGE = 10008
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
ANNOUNCEMENT_EDIT_LIMIT = 20022
GONE = {
    UNKNOWN_CHANNEL: "Unknown Channel: the channel was deleted",
    UNKNOWN_GUILD: "Unknown Guild: the server is gone",
    MISSING_ACCESS: "Missing Access: the bot cannot see the channel or was removed from the server",
}
CLOUDFLARE_WAIT = 60.0


def is_unknown_message(exc: BaseException) -> bool:
    """A 404 Unknown Message: the part was deleted by someone else."""
    return isinstance(exc, discord.NotFound) and exc.code == UNKNOWN_MESSAGE


def translate(
    exc: BaseException,
    *,
    channel_key: str,
    global_key: str,
    missing: str,
    destination: str,
    update_id: str = "",
) -> DeliveryError | None:
    """The relay error for `exc`, or None when it is not a platform error (a bug: re-raise)."""
    ctx = {"platform": "discord", "destination": destination, "update_id": update_id}
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, discord.RateLimited):
        return RateLimited(exc.retry_after, budget_key=channel_key, **ctx)
    if isinstance(exc, discord.HTTPException):
        code, status = exc.code, exc.status
        if code in GONE:
            return Gone(f"discord {code} {GONE[code]}", **ctx)
        if code == MISSING_PERMISSIONS:
            return Gone(f"discord 50013 Missing Permissions: the bot lacks {missing}", **ctx)
        if status == 429:
            header = exc.response.headers.get("Retry-After") if exc.response else None
            wait = float(header) if header and header.replace(".", "", 1).isdigit() else None
            return RateLimited(wait or CLOUDFLARE_WAIT, budget_key=global_key, **ctx)
        if status >= 500 or code == ANNOUNCEMENT_EDIT_LIMIT:
            return Transient(f"discord {status} code {code}: {exc.text}", **ctx)
        return Rejected(f"discord {status} code {code}: {exc.text}", **ctx)
    if isinstance(exc, aiohttp.ClientError | OSError | asyncio.TimeoutError):
        return Transient(f"network error: {type(exc).__name__}: {exc}", **ctx)
    return None
