"""Webhook delivery: POST each pending update to the bot's URL, in order, retrying failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from relay_sandbox.telegram.errors import bad_request
from relay_sandbox.telegram.records import Json
from relay_sandbox.telegram.updates import UpdateQueue

log = logging.getLogger(__name__)

_PORTS = (80, 88, 443, 8443)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
#: Retry delays after a failed delivery (seconds); the last one repeats.
RETRY_DELAYS = (0.05, 0.2, 1.0, 5.0)


@dataclass(frozen=True)
class Webhook:
    """A bot's webhook as setWebhook configured it."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None


def check_webhook(url: str, secret_token: str | None, max_connections: int | None) -> None:
    """Refuse what the real server refuses; plain HTTP is allowed on loopback only (local mode)."""
    parts = urlsplit(url)
    loopback = parts.hostname in _LOOPBACK
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if not loopback and (parts.port or 443) not in _PORTS:
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    if secret_token is not None and (
        not 1 <= len(secret_token) <= 256 or not set(secret_token) <= _SECRET_CHARS
    ):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    if max_connections is not None and not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")


class WebhookSender:
    """Delivers one bot's updates to its webhook until stopped."""

    def __init__(self, hook: Webhook, queue: UpdateQueue) -> None:
        self.hook = hook
        self._queue = queue
        self._task: asyncio.Task[None] | None = None
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None

    def start(self) -> None:
        """Run the delivery loop in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop delivering (pending updates stay queued)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def info(self) -> Json:
        """The WebhookInfo object."""
        out: Json = {
            "url": self.hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue.pending),
            "max_connections": self.hook.max_connections,
            "allowed_updates": sorted(self._queue.allowed),
        }
        if self.hook.ip_address:
            out["ip_address"] = self.hook.ip_address
        if self.last_error_date is not None:
            out["last_error_date"] = self.last_error_date
            out["last_error_message"] = self.last_error_message
        return out

    async def _run(self) -> None:
        headers = {}
        if self.hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.hook.secret_token
        offset: int | None = None
        failures = 0
        async with aiohttp.ClientSession(headers=headers) as session:
            while True:
                updates = await self._queue.poll(offset=offset, limit=1, timeout=30)
                if not updates:
                    if self._queue.closed:
                        return
                    continue
                update = updates[0]
                if await self._deliver(session, update):
                    failures = 0
                    offset = int(update["update_id"]) + 1
                    self._queue.confirm(offset)
                else:
                    delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                    failures += 1
                    await asyncio.sleep(delay)

    async def _deliver(self, session: aiohttp.ClientSession, update: dict[str, Any]) -> bool:
        try:
            async with session.post(self.hook.url, json=update) as resp:
                if 200 <= resp.status < 300:
                    return True
                reason = f"Wrong response from the webhook: {resp.status} {resp.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = f"Connection failed: {exc.__class__.__name__}"
        self.last_error_date = int(time.time())
        self.last_error_message = reason
        log.debug("webhook delivery failed url=%s %s", self.hook.url, reason)
        return False
