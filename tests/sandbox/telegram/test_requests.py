"""The HTTP envelope: paths, bodies, coercion, spec validation and error shapes."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox


async def call(
    tg: TelegramSandbox, token: str, method: str, **kwargs: Any
) -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
    verb = kwargs.pop("verb", "POST")
    async with (
        aiohttp.ClientSession() as session,
        session.request(verb, f"{tg.base_url}{token}/{method}", **kwargs) as resp,
    ):
        return resp.status, await resp.json(), dict(resp.headers)


async def test_form_body_is_coerced(tg: TelegramSandbox, account: Bot, reader: User) -> None:
    form = {
        "chat_id": str(reader.id),
        "text": "123",
        "disable_notification": "true",
        "link_preview_options": json.dumps({"is_disabled": True}),
    }
    status, body, _ = await call(tg, account.token, "sendMessage", data=form)
    assert status == 200 and body["ok"] is True
    assert body["result"]["text"] == "123"  # a String stays a string
    assert body["result"]["link_preview_options"] == {"is_disabled": True}
    shown = tg.control.transcript(reader.id)[-1]
    assert shown.disable_notification is True


async def test_json_body_get_and_case_insensitive_method(
    tg: TelegramSandbox, account: Bot, reader: User
) -> None:
    status, body, _ = await call(
        tg, account.token, "SENDMESSAGE", json={"chat_id": reader.id, "text": "hi"}
    )
    assert (status, body["result"]["text"]) == (200, "hi")
    status, body, _ = await call(tg, account.token, "getme", verb="GET")
    assert (status, body["result"]["username"]) == (200, "news_bot")
    status, body, _ = await call(
        tg, account.token, "sendMessage", params={"chat_id": str(reader.id), "text": "q"}
    )
    assert (status, body["result"]["text"]) == (200, "q")


async def test_unknown_method_and_tokens(tg: TelegramSandbox, account: Bot) -> None:
    assert (await call(tg, account.token, "sendMessages"))[:2] == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert (await call(tg, "42:nope", "getMe"))[:2] == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert (await call(tg, "garbage", "getMe"))[0] == 404


@pytest.mark.parametrize(
    ("data", "description"),
    [
        ({"text": "x"}, "Bad Request: chat_id is empty"),
        ({"chat_id": "1"}, "Bad Request: message text is empty"),
        ({"chat_id": "1", "text": ""}, "Bad Request: message text is empty"),
        (
            {"chat_id": "1", "text": "x", "colour": "red"},
            'Bad Request: parameter "colour" is unknown',
        ),
        (
            {"chat_id": "1", "text": "x", "disable_notification": "maybe"},
            'Bad Request: parameter "disable_notification" must be of type Boolean',
        ),
        (
            {"chat_id": "1", "text": "x", "message_thread_id": "seven"},
            'Bad Request: parameter "message_thread_id" must be of type Integer',
        ),
        (
            {"chat_id": "1", "text": "x", "reply_markup": "{not json"},
            "Bad Request: can't parse reply markup JSON object",
        ),
        (
            {"chat_id": "1", "text": "x", "entities": '{"type": "bold"}'},
            "Bad Request: can't parse entities JSON object",
        ),
    ],
)
async def test_requests_breaking_the_spec_are_refused(
    tg: TelegramSandbox, account: Bot, data: dict[str, str], description: str
) -> None:
    status, body, _ = await call(tg, account.token, "sendMessage", data=data)
    assert (status, body) == (400, {"ok": False, "error_code": 400, "description": description})


async def test_missing_required_generic(tg: TelegramSandbox, account: Bot) -> None:
    status, body, _ = await call(tg, account.token, "getChatMember", data={"chat_id": "1"})
    assert (status, body["description"]) == (400, 'Bad Request: parameter "user_id" is required')


async def test_lenient_mode_ignores_unknown_parameters() -> None:
    async with TelegramSandbox(strict=False, limits=TelegramLimits.off()) as lenient:
        account = lenient.control.create_bot("b_bot")
        user = lenient.control.create_user("Ann")
        lenient.control.send_message(user.id, "/start", bot=account)
        status, _, _ = await call(
            lenient, account.token, "sendMessage", data={"chat_id": user.id, "text": "x", "y": "z"}
        )
        assert status == 200


async def test_429_has_retry_after_header(clock: Any) -> None:
    async with TelegramSandbox(limits=TelegramLimits(per_chat_burst=1), clock=clock) as tg:
        account = tg.control.create_bot("b_bot")
        user = tg.control.create_user("Ann")
        tg.control.send_message(user.id, "/start", bot=account)
        form = {"chat_id": str(user.id), "text": "x"}
        assert (await call(tg, account.token, "sendMessage", data=form))[0] == 200
        status, body, headers = await call(tg, account.token, "sendMessage", data=form)
        assert (status, body) == (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            },
        )
        assert headers["Retry-After"] == "1"
        clock.advance(1.0)
        assert (await call(tg, account.token, "sendMessage", data=form))[0] == 200


async def test_request_log_records_params(tg: TelegramSandbox, account: Bot, reader: User) -> None:
    await call(tg, account.token, "sendMessage", data={"chat_id": str(reader.id), "text": "x"})
    record = tg.control.requests("sendmessage")[-1]
    assert (record.method, record.bot_id, record.status) == ("sendMessage", account.id, 200)
    assert record.params == {"chat_id": str(reader.id), "text": "x"}
