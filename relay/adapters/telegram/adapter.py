"""`TelegramAdapter`: the relay's Telegram platform over python-telegram-bot."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)

from relay import i18n
from relay.adapter import (
    SHARED_MARGIN,
    TELEGRAM_MARGIN,
    Adapter,
    AdapterContext,
    Budget,
    Pace,
    no_pace,
)
from relay.adapters.telegram.delivery import Delivery, translate
from relay.adapters.telegram.handlers import CommandListener, log_error
from relay.adapters.telegram.reachability import Recorded, RecordedAiohttp
from relay.adapters.telegram.render import TelegramMessage, render_cached
from relay.adapters.telegram.request import PAID_PER_SECOND
from relay.adapters.telegram.webhook import (
    ALLOWED_UPDATES,
    WebhookHealth,
    WebhookRoute,
    set_webhook,
)
from relay.bot_settings import TelegramBot, telegram_bots
from relay.claims import PollLease
from relay.commands import EDITORS, EVERYONE
from relay.config import Config, TopicConfig
from relay.health import Health
from relay.menus import DESCRIPTIONS as MENU_DESCRIPTIONS
from relay.menus import MENU_EDITORS, MENU_EVERYONE
from relay.model import Destination, Update
from relay.replies import DESCRIPTIONS

log = logging.getLogger(__name__)


def file_url(api_url: str) -> str:
    """The file download base next to an API base (`…/bot` → `…/file/bot`)."""
    root, _, _ = api_url.rstrip("/").rpartition("/")
    return f"{root}/file/bot"


class PollingErrors:
    """PTB's polling errors (the Bot API unreachable) as one warning line each, with the wait.

    Without this PTB logs each with a traceback. It waits 1 s after a failed getUpdates, then 1.5
    times longer each time, up to 30 s, and starts over after a poll that worked. That poll is
    not reported here: a gap longer than the last wait plus a long poll means one came between.
    """

    def __init__(self, poll_timeout: float) -> None:
        self.poll_timeout = poll_timeout
        self.wait = 0.0
        self.last = -math.inf

    def __call__(self, exc: TelegramError) -> None:
        now = time.monotonic()
        if now - self.last > self.wait + self.poll_timeout + 10.0:  # 10: PTB's read timeouts
            self.wait = 0.0
        self.wait, self.last = (1.0 if self.wait == 0 else min(30.0, 1.5 * self.wait)), now
        log.warning("telegram polling failed (%s: %s); retrying in %.2fs",
                    type(exc).__name__, exc, self.wait)  # fmt: skip


class TelegramAdapter(Adapter):
    """Renders, delivers and listens for commands with one bot token: `bot`, one of
    `config.telegram`'s bots (`relay.bot_settings.telegram_bots`; the first when not given).

    `start` with `context.commands` long-polls `config.telegram.api_url` for commands while
    this worker holds the bot's poll lease (`context.claims`), or in webhook mode sets the
    webhook while it holds the lease and serves the webhook's route (`routes`) whether or not
    it does; without commands (a CLI process) it only prepares the bot for sending.
    """

    platform = "telegram"

    def __init__(
        self,
        config: Config,
        *,
        poll_timeout: float = 10.0,
        progress_interval: float = 3.0,
        lease_seconds: float = 15.0,
        bot: TelegramBot | None = None,
    ) -> None:
        self.config = config
        tg = config.telegram
        bots = telegram_bots(tg)
        self.settings = bot = bot or bots[0]
        self.bot_name = bot.name
        self.several_bots = len(bots) > 1
        self.bot_id = bot.token.partition(":")[0]
        self.poll_timeout = poll_timeout
        self.progress_interval = progress_interval
        self.lease_seconds = lease_seconds
        self.lease: PollLease | None = None
        self._poller: asyncio.Task[None] | None = None
        self.budget_settings = budgets = bot.budgets or tg.budgets
        # getUpdates on PTB's httpx (one connection); every other call on aiohttp, with a
        # connection per send in flight and a few for command answers (request.py says why).
        self.polls = Recorded(strict=True, connection_pool_size=1)
        self.calls = RecordedAiohttp(
            config.dispatcher.concurrency + 8, strict=False,
            per_second=max(1, int(budgets.global_per_second)),
        )  # fmt: skip
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(bot.token)
            .request(self.calls)
            .get_updates_request(self.polls)
            .base_url(tg.api_url)
            .base_file_url(file_url(tg.api_url))
            .concurrent_updates(True)
            .build()
        )
        self.bot = self.app.bot
        self.delivery = Delivery(self.bot, int(self.bot_id or 0), budgets.paid_broadcast)
        self.listener: CommandListener | None = None
        self._bot_ready = False
        self.webhook: WebhookRoute | None = None  # webhook mode, once started for commands
        self._hooked = False  # this worker set the webhook since it took the lease
        self.webhook_health = WebhookHealth(self.bot, tg.webhook)

    # --- rendering and budgets ----------------------------------------------------------

    def render(self, update: Update, topic: TopicConfig) -> Sequence[TelegramMessage]:
        return render_cached(update, topic)

    def budgets(self, dest: Destination) -> tuple[Budget, ...]:
        b = self.budget_settings
        prefix = f"telegram:{self.bot_id}"
        rate = PAID_PER_SECOND if b.paid_broadcast else b.global_per_second
        # No burst: Telegram counts the global limit over any one second, and a burst would let
        # a second carry more than the rate. The margin costs 6% of 30/s (3% of paid broadcast's
        # 1,000/s; budgets.TELEGRAM_MARGIN says why).
        margin = SHARED_MARGIN if b.paid_broadcast else TELEGRAM_MARGIN
        overall = Budget(f"{prefix}:global", rate, 1.0, margin=margin)
        key = f"{prefix}:chat:{dest.chat_id}"
        if dest.chat_id.isdigit():  # a private chat: a user's id is positive
            # Telegram lets a chat take short bursts (3 in the sandbox's model); the relay bursts
            # one less, so a request that arrives early under load still finds a message's room.
            chat = Budget(key, b.per_chat_per_second, 1.0, burst=2)
        else:  # groups, supergroups and channels (negative ids, @usernames)
            # "20 in any minute" as a window, so a burst goes out at once (two a second, the
            # chat's own pace) instead of one every 3 s; then the minute decides.
            per_minute = max(1, int(b.per_group_per_minute))
            windows = ((per_minute, 60.0), (2, 2.0 / b.per_chat_per_second))
            chat = Budget(key, b.per_group_per_minute, 60.0, windows=windows)
        return overall, chat

    # --- delivery -----------------------------------------------------------------------

    @staticmethod
    def _silent(update: Update, topic: TopicConfig) -> bool:
        return False if update.breaking else topic.silent

    async def send(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        *,
        pace: Pace = no_pace,
        sent: tuple[str, ...] = (),
    ) -> tuple[str, ...]:
        done = list(sent)
        try:
            await self._ready()
            messages = render_cached(update, topic)
            ids = await self.delivery.send(dest, messages, self._silent(update, topic), done, pace)
        except TelegramError as exc:
            error = translate(exc, dest, update.id, self._chat_key(dest))
            if len(done) > len(sent):
                error.sent = tuple(done)  # kept: the retry sends only the parts after them
            raise error from exc
        if update.breaking and topic.pin_breaking:
            await self.delivery.pin(dest, ids[0], topic.template.labels.breaking)
        return ids

    async def edit(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        message_ids: tuple[str, ...],
        *,
        pace: Pace = no_pace,
    ) -> tuple[str, ...]:
        messages = render_cached(update, topic)
        now: list[str] = []  # the ids the copy has, kept up to date by each step of the edit
        try:
            await self._ready()
            silent = self._silent(update, topic)
            ids = await self.delivery.edit(dest, messages, message_ids, silent, now, pace)
        except TelegramError as exc:
            error = translate(exc, dest, update.id, self._chat_key(dest))
            if now and tuple(now) != message_ids:
                error.sent = tuple(now)  # parts added, replaced or changed before it failed
            raise error from exc
        if topic.pin_breaking and update.breaking:
            await self.delivery.pin(dest, ids[0], topic.template.labels.breaking)
        elif topic.pin_breaking:
            await self.delivery.unpin(dest, ids[0])
        return ids

    async def delete(self, dest: Destination, message_ids: tuple[str, ...]) -> None:
        try:
            await self._ready()
            await self.delivery.delete(dest, message_ids)  # a pinned message unpins with it
        except TelegramError as exc:
            raise translate(exc, dest, budget_key=self._chat_key(dest)) from exc

    def _chat_key(self, dest: Destination) -> str:
        return f"telegram:{self.bot_id}:chat:{dest.chat_id}"

    # --- lifecycle ----------------------------------------------------------------------

    async def _ready(self) -> None:
        if not self._bot_ready:
            await self.bot.initialize()
            self._bot_ready = True

    async def start(self, context: AdapterContext) -> None:
        commands, claims, subscriptions = context.commands, context.claims, context.subscriptions
        self.delivery.photos.media = context.media  # stored photos are uploaded from there
        if commands is None or claims is None or subscriptions is None:
            await self._ready()
            return
        self.listener = CommandListener(
            self.bot, self.config, commands, subscriptions, self.delivery, self.progress_interval,
            budgets=context.budgets, spends=self.budgets, bot_name=self.bot_name,
            media=context.media,
        )  # fmt: skip
        self.app.add_handler(
            MessageHandler(
                filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST,
                self.listener.on_update,
            )
        )
        self.app.add_handler(CallbackQueryHandler(self.listener.menus.on_callback))
        self.app.add_error_handler(log_error)
        await self.app.initialize()
        self._bot_ready = True
        await self.register_commands()
        await self.app.start()
        self.lease = claims.poll_lease(self.platform, self.bot_id, self.lease_seconds)
        if self.config.telegram.mode == "webhook":
            self.webhook = WebhookRoute(self.app, claims, self.bot_id, self.config.telegram.webhook)
        self._poller = asyncio.create_task(self._poll_while_leader(), name="telegram-poller")
        log.info("telegram bot @%s ready for commands", self.bot.username)

    def background(self) -> Sequence[asyncio.Task[Any]]:
        return () if self._poller is None else (self._poller,)

    def routes(self) -> Sequence[web.RouteDef]:
        """The HTTP routes this adapter serves on the API's server: the webhook's, if any."""
        return () if self.webhook is None else (self.webhook.route(),)

    @property
    def polling(self) -> bool:
        """Whether this process is the one long-polling for commands."""
        return self.app.updater is not None and self.app.updater.running

    async def _poll_while_leader(self) -> None:
        assert self.lease is not None and self.app.updater is not None
        while True:
            try:
                leader = await self.lease.hold()
            except Exception:  # Redis unreachable: keep doing what we did, try again soon
                log.exception("poll lease check failed")
                leader = self.polling or self._hooked
            if self.webhook is not None:
                await self._hold_webhook(leader)
            elif leader and not self.polling:
                await self.app.updater.start_polling(
                    timeout=timedelta(seconds=self.poll_timeout),
                    allowed_updates=list(ALLOWED_UPDATES),
                    error_callback=PollingErrors(self.poll_timeout),
                )
                log.info("polling for commands bot=%s", self.bot_id)
            elif not leader and self.polling:
                await self.app.updater.stop()
                log.info("another worker polls for commands now bot=%s", self.bot_id)
            await asyncio.sleep(self.lease_seconds / 3)

    async def _hold_webhook(self, leader: bool) -> None:
        """setWebhook once each time this worker takes the lease (again if it failed)."""
        if leader and not self._hooked:
            try:
                await set_webhook(self.bot, self.config.telegram.webhook)
                self._hooked = True
            except TelegramError as exc:
                log.warning("webhook not set bot=%s (retrying): %s", self.bot_id, exc)
        elif not leader:
            self._hooked = False

    async def health(self) -> Health:
        """The poller's last getUpdates succeeded recently (the worker that polls), or else the
        Bot API answered a call recently (a getMe now if none did for a while); in webhook mode,
        whether Telegram's updates reach the webhook (`webhook.judge`)."""
        if self.webhook is not None:
            return await self.webhook_health()
        if self.polling:
            return self.polls.seen.health(self.poll_timeout + 10.0, polling=True)
        age = self.calls.seen.age()
        if self.calls.seen.error is not None or age is None or age > 30.0:
            try:
                await self._ready()
                await asyncio.wait_for(self.bot.get_me(), 5.0)
            except Exception as exc:  # recorded by `calls` when it reached the transport
                seen = self.calls.seen
                seen.error = seen.error or f"{type(exc).__name__}: {exc}"
        return self.calls.seen.health(60.0, polling=False)

    async def register_commands(self) -> None:
        """setMyCommands: everyone's commands by default, editors' in each editor's chat; in
        English for every user, then per catalogue for the users of its language."""
        for language in sorted(i18n.LANGUAGES, key=lambda lang: lang != i18n.DEFAULT):
            said, code = i18n.translate(language).gettext, None
            if language != i18n.DEFAULT:
                code = language
            everyone = [BotCommand(c, said(DESCRIPTIONS[c])) for c in EVERYONE]
            everyone += [BotCommand(c, said(MENU_DESCRIPTIONS[c])) for c in MENU_EVERYONE]
            editors = everyone + [BotCommand(c, said(DESCRIPTIONS[c])) for c in EDITORS]
            editors += [BotCommand(c, said(MENU_DESCRIPTIONS[c])) for c in MENU_EDITORS]
            try:
                await self.bot.set_my_commands(everyone, BotCommandScopeDefault(), code)
            except TelegramError as exc:  # the menu is a convenience; commands work without it
                log.warning("commands not registered language=%s: %s", language, exc)
                return
            for user_id in sorted(self.config.editors.telegram_users):
                try:
                    await self.bot.set_my_commands(editors, BotCommandScopeChat(user_id), code)
                except TelegramError as exc:  # the editor has not started the bot yet
                    log.warning("editor commands not set user=%s: %s", user_id, exc)

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self.webhook is not None:
            await self.webhook.aclose()
        if self.listener is not None:
            await self.listener.aclose()
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.lease is not None:
            try:
                await self.lease.release()
            except Exception:
                log.exception("poll lease not released (it expires on its own)")
        if self.app.running:
            await self.app.stop()
        if self.listener is not None:
            await self.app.shutdown()  # the bot with it
        elif self._bot_ready:
            await self.bot.shutdown()
        self._bot_ready = False
        for request in (self.calls, self.polls):  # what a start-up that failed left open
            await request.shutdown()
