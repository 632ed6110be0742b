"""Webhook mode: the sandbox posts each update, as Telegram does, through a load balancer to two
workers; one of them sets the webhook, each serves the route, exactly one processes an update.

In process: two `TelegramAdapter`s on the test Valkey, each serving its routes on its own
aiohttp server, behind `Front`. `tests/test_webhook_run.py` runs `relay run` twice instead.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox

from relay import config as config_mod
from relay.adapters.telegram import TelegramAdapter
from relay.adapters.telegram.webhook import SECRET_HEADER
from relay.claims import Claims
from relay.commands import Commands
from relay.config import Config
from relay.errors import ConfigError
from relay.keys import Keys
from relay.telegram_settings import WebhookConfig
from tests.adapters.telegram.conftest import WAIT, wait_for
from tests.adapters.telegram.front import AFTER, BEFORE, Front
from tests.conftest import BASE_CONFIG
from tests.helpers import Pipeline, listening

SECRET = "Webhook_secret-0123456789abcdef"
PATH = "/telegram/webhook"


@dataclass
class Fleet:
    front: Front
    workers: list[TelegramAdapter]
    urls: list[str]

    @property
    def received(self) -> list[int]:
        return [w.webhook.received if w.webhook else 0 for w in self.workers]

    @property
    def duplicates(self) -> list[int]:
        return [w.webhook.duplicates if w.webhook else 0 for w in self.workers]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - the state lives in the sandbox and PTB
            await asyncio.sleep(0.02)


@pytest.fixture
async def fleet(
    client: Any,
    tg: TelegramSandbox,
    account: Bot,
    reader: User,
    tg_config: Callable[..., Config],
) -> AsyncIterator[Fleet]:
    """Two workers behind the front, once the updates sent before (the reader's and the
    editor's first words) went through: each test counts from zero, starting at worker 0."""
    async with Front([]) as front:
        base = tg_config()
        hook = WebhookConfig(url=front.url(PATH), secret_token=SECRET)
        config = replace(base, telegram=replace(base.telegram, mode="webhook", webhook=hook))
        pipeline = Pipeline(client, config, adapters=[])
        commands = Commands(config, pipeline.ingest, pipeline.subs)
        workers, servers = [], []
        try:
            for _ in range(2):
                worker = TelegramAdapter(config, poll_timeout=1.0, lease_seconds=0.6)
                workers.append(worker)
                await worker.start(listening(commands))
                app = web.Application()
                app.router.add_routes(worker.routes())
                server = TestServer(app, host="127.0.0.1")
                await server.start_server()
                servers.append(server)
            front.workers = [str(s.make_url("")).rstrip("/") for s in servers]
            await until(lambda: bool(tg.control.requests("setWebhook")))
            await until(lambda: not tg.control.pending_updates(account))
            for worker in workers:
                assert worker.webhook is not None
                worker.webhook.received = worker.webhook.duplicates = 0
            front.served.clear()
            front.next = 0
            yield Fleet(front, workers, front.workers)
        finally:
            for worker in workers:
                await worker.aclose()
            for server in servers:
                await server.close()


def subscribe_update(tg: TelegramSandbox, update_id: int, user: User) -> dict[str, Any]:
    """The update Telegram posts when `user` types /subscribe ukraine to the bot (as the
    message `user` sent last, which the answer replies to)."""
    person = {"id": user.id, "is_bot": False, "first_name": user.first_name}
    last = [m for m in tg.control.transcript(user.id) if m.sender_id == user.id][-1]
    return {
        "update_id": update_id,
        "message": {
            "message_id": last.message_id,
            "date": int(time.time()),
            "chat": {**person, "type": "private"},
            "from": person,
            "text": "/subscribe ukraine",
            "entities": [{"type": "bot_command", "offset": 0, "length": 10}],
        },
    }


async def post(url: str, body: Any, secret: str | None = SECRET) -> int:
    headers = {} if secret is None else {SECRET_HEADER: secret}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as r:
        return r.status


def replies(tg: TelegramSandbox, user: User, account: Bot) -> list[str]:
    shown = tg.control.transcript(user.id, bot=account)
    return [m.content for m in shown if m.sender_id == account.id]


async def test_one_worker_sets_the_webhook_with_the_secret_and_only_the_update_types_read(
    fleet: Fleet, tg: TelegramSandbox, account: Bot, reader: User
) -> None:
    (call,) = [r for r in tg.control.requests("setWebhook") if r.status == 200]
    assert call.params["url"] == fleet.front.url(PATH)
    assert call.params["secret_token"] == SECRET
    # The request log holds the parameters as sent (a form: the list as JSON text).
    assert sorted(json.loads(call.params["allowed_updates"])) == [
        "callback_query",
        "channel_post",
        "message",
    ]
    assert int(call.params["max_connections"]) == 40
    info = await fleet.workers[1].bot.get_webhook_info()
    assert info.url == fleet.front.url(PATH)
    assert sorted(info.allowed_updates or ()) == ["callback_query", "channel_post", "message"]
    assert not tg.control.requests("getUpdates")  # no worker polls in webhook mode
    tg.control.send_message(reader.id, "/subscribe ukraine", bot=account)
    tg.control.send_message(reader.id, "/subscriptions", bot=account)
    await wait_for(tg, reader.id, lambda ms: ms[-1].content.startswith("This chat receives"))
    assert sum(fleet.received) == 2 and fleet.received != [2, 0]  # both workers served one
    assert [r for r in replies(tg, reader, account) if r.startswith("Subscribed")] != []


async def test_a_missing_or_wrong_secret_is_refused_and_nothing_is_processed(
    fleet: Fleet, tg: TelegramSandbox, account: Bot, reader: User, client: Any
) -> None:
    url = fleet.urls[0] + PATH
    update = subscribe_update(tg, 7001, reader)
    assert await post(url, update, secret=None) == 401
    assert await post(url, update, secret=SECRET[:-1] + "X") == 403
    assert await post(url, update, secret="") == 403
    assert fleet.received == [0, 0] and fleet.duplicates == [0, 0]
    key = Keys().delivered_update("telegram", str(account.id), 7001)
    assert await client.exists(key) == 0  # not even claimed: the right secret processes it
    assert await post(url, update) == 200
    await wait_for(tg, reader.id, lambda ms: ms[-1].content.startswith("Subscribed"))
    assert fleet.received == [1, 0]


async def test_a_body_that_is_no_update_is_400(fleet: Fleet, reader: User) -> None:
    url = fleet.urls[1] + PATH
    assert await post(url, {"message": "no update_id"}) == 400
    assert await post(url, [1, 2]) == 400
    assert await post(url, {"update_id": True}) == 400
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=b"{not json", headers={SECRET_HEADER: SECRET}) as r,
    ):
        assert r.status == 400
    assert fleet.received == [0, 0]


async def test_the_same_update_posted_to_two_workers_is_processed_once(
    fleet: Fleet, tg: TelegramSandbox, account: Bot, reader: User
) -> None:
    update = subscribe_update(tg, 7002, reader)
    statuses = await asyncio.gather(*(post(u + PATH, update) for u in fleet.urls))
    # One processes it (200 once done); the other, meeting its claim, answers 200 if it is done
    # by then, else 503, and Telegram posts it again later: then it is a duplicate, 200.
    assert sorted(statuses) in ([200, 200], [200, 503]), statuses
    if 503 in statuses:
        assert await post(fleet.urls[statuses.index(503)] + PATH, update) == 200
    assert sum(fleet.received) == 1 and sum(fleet.duplicates) == 1
    await wait_for(tg, reader.id, lambda ms: ms[-1].content.startswith("Subscribed"))
    # A later command answered: the one subscribe was answered once.
    assert await post(fleet.urls[0] + PATH, subscribe_update(tg, 7003, reader)) == 200
    await wait_for(tg, reader.id, lambda ms: ms[-1].content.startswith("Already subscribed"))
    assert len([r for r in replies(tg, reader, account) if r.startswith("Subscribed")]) == 1


@pytest.mark.parametrize(
    ("drop", "received"), [(BEFORE, [0, 1]), (AFTER, [1, 0])], ids=["dead-worker", "lost-answer"]
)
async def test_an_unanswered_delivery_is_retried_and_processed_once(
    fleet: Fleet,
    tg: TelegramSandbox,
    account: Bot,
    reader: User,
    drop: str,
    received: list[int],
) -> None:
    fleet.front.drops = [drop]  # the first delivery goes to worker 0 and gets no answer
    tg.control.send_message(reader.id, "/subscribe ukraine", bot=account)
    await wait_for(tg, reader.id, lambda ms: ms[-1].content.startswith("Subscribed"))
    await until(lambda: len(fleet.front.served) == 2)
    assert fleet.front.served == [(0, None), (1, 200)]  # Telegram retried, on worker 1
    assert fleet.received == received
    assert fleet.duplicates == [0, 1 - received[1]]
    info = await fleet.workers[0].bot.get_webhook_info()
    assert info.last_error_message is not None and "Connection failed" in info.last_error_message
    assert info.pending_update_count == 0
    assert len([r for r in replies(tg, reader, account) if r.startswith("Subscribed")]) == 1


async def test_an_update_whose_worker_died_mid_way_is_processed_once_its_lease_ran_out(
    fleet: Fleet, tg: TelegramSandbox, account: Bot, reader: User, client: Any
) -> None:
    update = subscribe_update(tg, 7010, reader)
    # What a worker leaves that claimed the update and was killed before its handlers ran.
    claims = Claims(client, Keys())
    assert await claims.claim_update("telegram", fleet.workers[0].bot_id, 7010, 1) is None
    url = fleet.urls[1] + PATH
    assert await post(url, update) == 503  # Telegram posts it again later
    assert fleet.received == [0, 0]
    async with asyncio.timeout(WAIT):
        while await post(url, update) != 200:  # noqa: ASYNC110 - until the dead lease ends
            await asyncio.sleep(0.2)
    assert fleet.received == [0, 1] and fleet.workers[1].webhook is not None
    assert fleet.workers[1].webhook.busy >= 1
    # Processed before the answer: the reply is there, and the update is marked done.
    assert [r for r in replies(tg, reader, account) if r.startswith("Subscribed")] != []
    assert await post(fleet.urls[0] + PATH, update) == 200  # a late retry, to the other worker
    assert fleet.received == [0, 1] and fleet.duplicates == [1, 0]
    assert len([r for r in replies(tg, reader, account) if r.startswith("Subscribed")]) == 1


async def health_until(worker: TelegramAdapter, up: bool) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        while (health := await worker.health()).up is not up:  # noqa: ASYNC110 - asks the API
            await asyncio.sleep(0.05)
    return dict(health.detail)


async def test_readiness_says_whether_updates_reach_the_webhook(
    fleet: Fleet, tg: TelegramSandbox, account: Bot, reader: User
) -> None:
    worker = fleet.workers[1]
    worker.webhook_health.info_seconds = 0.0  # ask getWebhookInfo at every check
    assert (await worker.health()).up
    fleet.front.down = True  # no worker reachable: Telegram's posts fail, the update waits
    tg.control.send_message(reader.id, "/subscriptions", bot=account)
    detail = await health_until(worker, up=False)
    assert detail["pending"] == 1 and "Connection failed" in detail["last_error"]
    fleet.front.down = False  # reachable again: the retry gets through, nothing waits
    await wait_for(tg, reader.id, lambda ms: ms[-1].content.startswith("This chat receives"))
    detail = await health_until(worker, up=True)
    assert detail["pending"] == 0 and "Connection failed" in detail["last_error"]
    await worker.bot.delete_webhook()  # the webhook gone (someone else's bot code, say)
    detail = await health_until(worker, up=False)
    assert detail["error"] == "the webhook is not set to telegram.webhook.url"


# --- configuration ------------------------------------------------------------------------

TOKEN = "123:telegram-token"
ENV = {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET}


def _webhook_config(
    env: dict[str, str] = ENV, need_tokens: bool = True, api: bool = True, **webhook: Any
) -> Config:
    data = {
        **BASE_CONFIG,
        "api": {"enabled": api},
        "telegram": {"enabled": True, "mode": "webhook",
                     "webhook": {"url": "https://relay.example.org/telegram/webhook", **webhook}},
    }  # fmt: skip
    return config_mod.parse(data, "relay.yaml", env, need_tokens=need_tokens)


def test_webhook_settings_are_read_and_the_secret_is_masked() -> None:
    config = _webhook_config(max_connections=10, drop_pending_updates=True, path="/hook")
    hook = config.telegram.webhook
    assert config.telegram.mode == "webhook"
    assert (hook.secret_token, hook.max_connections, hook.path) == (SECRET, 10, "/hook")
    assert hook.drop_pending_updates is True
    assert SECRET in config.secrets  # relay.logs masks every one of them
    assert SECRET not in repr(config)
    assert config_mod.parse(BASE_CONFIG, "relay.yaml", {}).telegram.mode == "polling"
    loopback = _webhook_config(url="http://127.0.0.1:8443/telegram/webhook")
    assert loopback.telegram.webhook.url == "http://127.0.0.1:8443/telegram/webhook"


@pytest.mark.parametrize(
    ("env", "webhook", "key", "words"),
    [
        (ENV, {"url": None}, "telegram.webhook.url", "required in webhook mode"),
        ({"TELEGRAM_TOKEN": TOKEN}, {}, "telegram.webhook.secret_token_env",
         "TELEGRAM_WEBHOOK_SECRET to hold the webhook secret"),
        ({**ENV, "HOOK": "has spaces and é"}, {"secret_token_env": "HOOK"},
         "telegram.webhook.secret_token_env", "16-256 characters among A-Z, a-z, 0-9, _ and -"),
        ({**ENV, "HOOK": "x" * 257}, {"secret_token_env": "HOOK"},
         "telegram.webhook.secret_token_env", "16-256 characters"),
        ({**ENV, "HOOK": "Abc_0123456789-"}, {"secret_token_env": "HOOK"},
         "telegram.webhook.secret_token_env", "no fewer than a guess would take"),
        (ENV, {"url": "http://relay.example.org/hook"}, "telegram.webhook.url", "https://"),
        (ENV, {"url": "https://relay.example.org:8080/hook"}, "telegram.webhook.url",
         "port 443, 80, 88 or 8443"),
        (ENV, {"max_connections": 101}, "telegram.webhook.max_connections", "1 to 100"),
        (ENV, {"path": "telegram"}, "telegram.webhook.path", 'starting with "/"'),
    ],
    ids=["no-url", "no-secret", "bad-characters", "too-long", "too-short", "http", "port",
         "connections", "path"],
)  # fmt: skip
def test_webhook_mode_refuses_what_cannot_work(
    env: dict[str, str], webhook: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _webhook_config(env, **webhook)
    assert info.value.key == key and words in info.value.expected, str(info.value)
    for secret in env.values():
        assert secret not in str(info.value)


def test_webhook_mode_needs_the_http_server_and_a_known_mode() -> None:
    with pytest.raises(ConfigError) as info:
        _webhook_config(api=False)
    assert info.value.key == "api.enabled" and "webhook route" in info.value.expected
    data = {**BASE_CONFIG, "telegram": {"mode": "webhooks"}}
    with pytest.raises(ConfigError) as info:
        config_mod.parse(data, "relay.yaml", {})
    assert info.value.key == "telegram.mode" and "polling, webhook" in info.value.expected


def test_a_command_that_never_talks_to_telegram_needs_no_webhook_secret() -> None:
    config = _webhook_config({}, need_tokens=False)
    assert config.telegram.webhook.secret_token == ""
