"""Crossposting (publishing) new copies in announcement channels to the servers that follow them.

Discord publishes at most 10 messages per channel and hour, counted in a window that opens with
the first crosspost and resets an hour later. The count lives in Redis with the other budgets
(`Budgets.try_spend`), so every worker shares it and a restarted relay remembers it. A budget
that lets `burst` through at once and then one every `3600 / rate` seconds puts at most
`burst + rate - 1` crossposts into any hour, wherever Discord's window falls: `per_hour` 10 is
a burst of 5 and 6 an hour (a burst of 10 would let an 11th into the window 6 minutes later).
A crosspost the budget refuses is skipped with one log line; so is every crosspost of a process
given no budgets. It never fails or delays the delivery: crossposts run in the background,
and a relay that stops gives the ones in flight a few seconds (`CLOSE_GRACE`) to finish.

They use their own discord.py HTTP client without `max_ratelimit_timeout`: the crosspost
bucket resets after up to an hour, and a client with that timeout would refuse every crosspost
after the first one before sending it.
"""

from __future__ import annotations

import asyncio
import logging

import discord
import discord.http
from discord.http import Route

from relay.budgets import Budget, Budgets
from relay.model import Destination

log = logging.getLogger(__name__)
HOUR = 3600.0
CLOSE_GRACE = 5.0  # seconds a closing relay waits for the crossposts in flight


def crosspost_budget(bot_id: str, channel_id: int, per_hour: int = 10) -> Budget:
    """The budget of one channel's crossposts: never more than `per_hour` in any hour."""
    burst = max(1, per_hour // 2)
    return Budget(f"discord:{bot_id}:crosspost:{channel_id}", per_hour - burst + 1, HOUR, burst)


class Crossposts:
    """Publishes messages in the background, each only if the channel's budget has room."""

    def __init__(self, bot_id: str, *, enabled: bool = True, per_hour: int = 10) -> None:
        self.bot_id = bot_id
        self.enabled = enabled
        self.per_hour = per_hour
        self.budgets: Budgets | None = None  # given by the adapter's start
        self._http: discord.http.HTTPClient | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def open(self, token: str, budgets: Budgets | None) -> None:
        self.budgets = budgets
        if self.enabled:
            self._http = discord.http.HTTPClient(asyncio.get_running_loop())
            await self._http.static_login(token)

    async def settle(self) -> None:
        """Wait for the crossposts in flight."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def close(self, grace: float = CLOSE_GRACE) -> None:
        """Let the crossposts in flight finish (for up to `grace` seconds), then stop."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=grace)
        for task in self._pending:
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    def publish(self, channel_id: int, message_ids: list[str], dest: Destination) -> None:
        """Crosspost each message, in the background."""
        if not self.enabled:
            return
        for message_id in message_ids:
            task = asyncio.create_task(self._publish(channel_id, message_id, dest))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _publish(self, channel_id: int, message_id: str, dest: Destination) -> None:
        budget = crosspost_budget(self.bot_id, channel_id, self.per_hour)
        try:
            admitted = self.budgets is not None and await self.budgets.try_spend((budget,))
        except Exception as exc:  # Redis unreachable: skip it rather than exceed the limit
            log.warning("crosspost skipped (budget unreadable) dest=%s message=%s error=%s",
                        dest, message_id, exc)  # fmt: skip
            return
        if not admitted or self._http is None:
            why = "hourly limit" if self.budgets is not None else "no shared budget"
            log.warning("crosspost skipped (%s) dest=%s message=%s", why, dest, message_id)
            return
        route = Route("POST", "/channels/{channel_id}/messages/{message_id}/crosspost",
                      channel_id=channel_id, message_id=int(message_id))  # fmt: skip
        try:
            await self._http.request(route)
            log.info("crossposted dest=%s message=%s", dest, message_id)
        except (discord.HTTPException, OSError) as exc:
            log.warning("crosspost failed dest=%s message=%s error=%s", dest, message_id, exc)
