"""Webhooks: delivery in order with the secret header, retries, 409 for getUpdates, info."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from relay_sandbox.telegram.records import Bot
from relay_sandbox.telegram.server import TelegramSandbox
from telegram import Bot as PtbBot
from telegram import Update
from telegram.error import BadRequest, Conflict

WAIT = 10.0  # a guard against hanging only


@dataclass
class Receiver:
    """A local webhook endpoint that fails the first ``fail`` deliveries."""

    url: str = ""
    fail: int = 0
    got: asyncio.Queue[tuple[str | None, dict[str, object]]] = field(default_factory=asyncio.Queue)
    calls: int = 0


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def hook(request: web.Request) -> web.Response:
        rec.calls += 1
        if rec.fail > 0:
            rec.fail -= 1
            return web.Response(status=500)
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        rec.got.put_nowait((secret, await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield rec
    await runner.cleanup()


async def test_delivery_retry_and_conflict(
    tg: TelegramSandbox, bot: PtbBot, account: Bot, receiver: Receiver
) -> None:
    receiver.fail = 1
    assert await bot.set_webhook(receiver.url, secret_token="s3cret_token")
    user = tg.control.create_user("Ann")
    tg.control.send_message(user.id, "/subscribe ukraine", bot=account)
    tg.control.send_message(user.id, "/topics", bot=account)
    texts = []
    for _ in range(2):
        secret, payload = await asyncio.wait_for(receiver.got.get(), WAIT)
        assert secret == "s3cret_token"
        update = Update.de_json(payload, bot)
        assert update.message is not None
        texts.append(update.message.text)
    assert texts == ["/subscribe ukraine", "/topics"]
    assert receiver.calls == 3  # the first delivery failed and was retried
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (receiver.url, 0)
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    with pytest.raises(Conflict) as err:
        await bot.get_updates()
    assert err.value.message == (
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
        "delete the webhook first"
    )
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    tg.control.send_message(user.id, "polled again", bot=account)
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["polled again"]


async def test_webhook_url_rules(bot: PtbBot) -> None:
    with pytest.raises(BadRequest, match=r"^Bad webhook: an https url must be provided"):
        await bot.set_webhook("http://example.org/hook")
    with pytest.raises(BadRequest, match="only on ports 80, 88, 443 or 8443"):
        await bot.set_webhook("https://example.org:9000/hook")
    with pytest.raises(BadRequest, match="secret token contains unallowed characters"):
        await bot.set_webhook("https://example.org/hook", secret_token="no spaces")
