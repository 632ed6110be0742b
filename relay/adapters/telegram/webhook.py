"""Webhook mode (`telegram.mode: webhook`): Telegram posts each update to the relay's HTTP server.

Every worker serves the route (`telegram.webhook.path`, on the API's aiohttp server); the worker
holding the bot's poll lease sets the webhook (`set_webhook`). Behind a load balancer any
worker may receive an update, and Telegram posts it again when it got no 2xx answer (a worker
that died before answering), perhaps to another worker: `WebhookRoute` claims each update id in
Redis first, so exactly one worker hands it to python-telegram-bot.

The route answers 401 without the `X-Telegram-Bot-Api-Secret-Token` header and 403 with a
wrong one (compared in constant time), 400 for a body that is no update, 503 while Redis is
away (Telegram retries). A claimed update is processed (PTB's handlers run) before the answer:
200 once it is done, so an update whose worker died mid-way gets no 2xx and Telegram posts it
again. The claim is a lease of `LEASE` seconds while the worker works: a retry that meets it
gets 503 and comes back later, after the lease of a dead worker ran out it is processed anew;
an update marked done is answered 200 at once. Processing that takes longer than `ANSWER_WITHIN`
is answered 200 meanwhile (Telegram would time out and retry) and finishes on its own.

Readiness (`webhook_health`): up while getWebhookInfo shows the configured URL and no delivery
error in the last `RECENT_ERROR` seconds with updates still pending, which is when Telegram's
updates reach a worker; a recent error with nothing pending was a retry that got through.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from telegram import Bot, Update, WebhookInfo
from telegram.ext import Application

from relay.claims import DONE, Claims
from relay.health import Health
from relay.telegram_settings import WebhookConfig

log = logging.getLogger(__name__)

#: The update types the relay's handlers read (`adapter.py`): Telegram sends no others.
ALLOWED_UPDATES = ("message", "channel_post", "callback_query")  # the last: menu buttons
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Telegram keeps an update it could not deliver for 24 hours, retrying: a claim outlives that.
CLAIM_SECONDS = 24 * 3600
#: The claim's lease while a worker processes an update: a dead worker's claim ends this soon.
LEASE = 15.0
#: Answer 200 after this long even if the update's handlers still run (they go on).
ANSWER_WITHIN = 10.0
#: A delivery error younger than this, with updates pending, makes the webhook not ready.
RECENT_ERROR = 60.0
#: getWebhookInfo answers are reused this long (every probe of every worker asks).
INFO_SECONDS = 5.0


def _refuse(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)


class WebhookRoute:
    """The webhook's route on one worker: checks, claims and queues each posted update."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        claims: Claims,
        bot_id: str,
        settings: WebhookConfig,
    ) -> None:
        self.app = app
        self.claims = claims
        self.bot_id = bot_id
        self.settings = settings
        self._secret = settings.secret_token.encode()
        self.lease = LEASE
        self.received = 0  # updates this worker claimed and processed
        self.duplicates = 0  # updates another worker (or this one) had processed
        self.busy = 0  # posts refused for now: another worker's lease on the update runs
        self._working: set[asyncio.Task[None]] = set()

    def route(self) -> web.RouteDef:
        return web.post(self.settings.path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return _refuse(401, f"missing {SECRET_HEADER} header")
        if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), self._secret):
            return _refuse(403, f"wrong {SECRET_HEADER} header")
        try:
            data = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _refuse(400, "the body is no JSON")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return _refuse(400, "the body is no Telegram update (no integer update_id)")
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception as exc:  # PTB reads what Telegram sends; anything else is refused
            return _refuse(400, f"the body is no Telegram update ({type(exc).__name__})")
        held = await self.claims.claim_update("telegram", self.bot_id, update_id, self.lease)
        if held == DONE:
            self.duplicates += 1
            log.debug("webhook update already processed bot=%s update=%d", self.bot_id, update_id)
            return web.json_response({"ok": True, "duplicate": True})
        if held is not None:
            self.busy += 1
            return web.json_response({"error": "another worker is processing this update"},
                                     status=503, headers={"Retry-After": "1"})  # fmt: skip
        self.received += 1
        work = asyncio.ensure_future(self._process(update, update_id))
        self._working.add(work)
        work.add_done_callback(self._working.discard)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(work), ANSWER_WITHIN)
        return web.json_response({"ok": True})

    async def _process(self, update: Update, update_id: int) -> None:
        """Run PTB's handlers on `update`, then mark it done for every worker."""
        await self.app.process_update(update)
        try:
            await self.claims.finish_update("telegram", self.bot_id, update_id, CLAIM_SECONDS)
        except Exception as exc:  # its lease runs out: a retry in 24 h could run it again
            log.warning("webhook update not marked done bot=%s update=%d: %s",
                        self.bot_id, update_id, exc)  # fmt: skip

    async def aclose(self) -> None:
        """Let the updates still being processed finish (the relay is stopping)."""
        if self._working:
            await asyncio.wait(self._working, timeout=ANSWER_WITHIN)


async def set_webhook(bot: Bot, settings: WebhookConfig) -> None:
    """setWebhook as configured, with the secret and only the update types the relay reads."""
    assert settings.url is not None  # checked when the config loaded
    await bot.set_webhook(
        settings.url,
        secret_token=settings.secret_token,
        allowed_updates=list(ALLOWED_UPDATES),
        max_connections=settings.max_connections,
        drop_pending_updates=settings.drop_pending_updates,
    )
    log.info("webhook set bot=%s url=%s", bot.id, settings.url)


class WebhookHealth:
    """Whether Telegram's updates reach the webhook, from getWebhookInfo (cached briefly)."""

    def __init__(self, bot: Bot, settings: WebhookConfig) -> None:
        self.bot = bot
        self.settings = settings
        self.info_seconds = INFO_SECONDS
        self._info: WebhookInfo | None = None
        self._asked = -INFO_SECONDS

    async def __call__(self) -> Health:
        if self._info is None or time.monotonic() - self._asked >= self.info_seconds:
            self._info = await self.bot.get_webhook_info()
            self._asked = time.monotonic()
        return judge(self._info, self.settings.url or "")


def judge(info: WebhookInfo, url: str) -> Health:
    """Up while the webhook is ours and no recent delivery error left updates waiting."""
    detail: dict[str, Any] = {"mode": "webhook", "pending": info.pending_update_count}
    if info.url != url:
        detail["error"] = "the webhook is not set to telegram.webhook.url"
        return Health(False, detail)
    if info.last_error_date is not None:
        age = (datetime.now(UTC) - info.last_error_date).total_seconds()
        detail.update(last_error=info.last_error_message, last_error_age=round(age, 1))
        if age < RECENT_ERROR and info.pending_update_count > 0:
            return Health(False, detail)
    return Health(True, detail)
