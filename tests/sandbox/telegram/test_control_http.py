"""The control API over HTTP, end to end, and the event stream (in process and as SSE)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from relay_sandbox.telegram.server import TelegramSandbox, ptb_bot
from telegram.error import ChatMigrated, NetworkError

WAIT = 10.0  # a guard against hanging only


async def control(
    session: aiohttp.ClientSession, tg: TelegramSandbox, path: str, body: Any = None
) -> Any:
    url = f"{tg.url}/_sandbox/telegram{path}"
    if body is None:
        async with session.get(url) as resp:
            payload = await resp.json()
    else:
        async with session.post(url, json=body) as resp:
            payload = await resp.json()
    assert resp.status == 200, payload
    return payload["result"]


async def test_http_control_end_to_end(tg: TelegramSandbox) -> None:
    async with aiohttp.ClientSession() as s:
        bot = await control(s, tg, "/bots", {"username": "desk_bot"})
        owner = await control(s, tg, "/users", {"first_name": "Olga", "username": "olga"})
        chat = await control(
            s, tg, "/chats", {"type": "group", "title": "Desk", "creator": owner["id"]}
        )
        member = await control(s, tg, f"/chats/{chat['id']}/bots", {"bot": "desk_bot"})
        assert member["status"] == "administrator"
        said = await control(
            s, tg, f"/chats/{chat['id']}/messages", {"user_id": owner["id"], "text": "/topics"}
        )
        assert said["entities"] == [{"type": "bot_command", "offset": 0, "length": 7}]
        added, update = await control(s, tg, f"/bots/{bot['username']}/updates")
        assert added["my_chat_member"]["new_chat_member"]["status"] == "administrator"
        assert update["message"]["text"] == "/topics"

        async with ptb_bot(tg, bot["token"]) as ptb:
            sent = await ptb.send_message(chat["id"], "<b>Topics</b>: ukraine", parse_mode="HTML")
            await control(s, tg, "/faults/next", {"method": "sendMessage", "error_code": 502,
                                                  "description": "Bad Gateway"})  # fmt: skip
            try:
                await ptb.send_message(chat["id"], "x")
                raise AssertionError("the fault was not injected")
            except NetworkError as exc:
                assert exc.message == "Bad Gateway"
            moved = await control(s, tg, f"/chats/{chat['id']}/migrate", {})
            try:
                await ptb.send_message(chat["id"], "x")
                raise AssertionError("the group was not migrated")
            except ChatMigrated as exc:
                assert exc.new_chat_id == moved["id"]

        transcript = await control(s, tg, f"/chats/{chat['id']}/transcript")
        assert [m["text"] for m in transcript] == ["/topics", "Topics: ukraine", None]
        assert transcript[1]["entities"] == [{"type": "bold", "offset": 0, "length": 6}]
        assert transcript[1]["message_id"] == sent.message_id
        assert transcript[2]["service"] == {"migrate_to_chat_id": moved["id"]}
        log = await control(s, tg, "/requests")
        assert [(r["method"], r["status"]) for r in log if r["method"] == "sendMessage"] == [
            ("sendMessage", 200),
            ("sendMessage", 502),
            ("sendMessage", 400),
        ]
        async with s.post(f"{tg.url}/_sandbox/telegram/chats/-1/delete", json={}) as resp:
            assert resp.status == 400 and "unknown chat" in (await resp.json())["error"]


async def test_events_in_process_and_as_server_sent_events(tg: TelegramSandbox) -> None:
    account = tg.control.create_bot("desk_bot")
    user = tg.control.create_user("Ann")
    tg.control.send_message(user.id, "/start", bot=account)
    stream = tg.control.events()
    seen: list[str] = []
    unsubscribe = tg.control.subscribe(lambda e: seen.append(e.kind))
    async with aiohttp.ClientSession() as s, s.get(f"{tg.url}/_sandbox/telegram/events") as sse:
        # The handler subscribes before it sends the headers: nothing is missed from here.
        assert sse.headers["Content-Type"] == "text/event-stream"
        async with ptb_bot(tg, account.token) as bot:
            sent = await bot.send_message(user.id, "Live")
            await bot.edit_message_text("Live!", chat_id=user.id, message_id=sent.message_id)
            await bot.pin_chat_message(user.id, sent.message_id)
            await bot.delete_message(user.id, sent.message_id)
        kinds = []
        async with asyncio.timeout(WAIT):
            async for event in stream:
                kinds.append((event.kind, event.message.text, event.message.deleted))
                if event.kind == "message_deleted":
                    break
        assert kinds == [
            ("message_sent", "Live", False),
            ("message_edited", "Live!", False),
            ("message_pinned", "Live!", False),
            ("message_sent", None, False),  # the "pinned" service message
            ("message_deleted", "Live!", True),
        ]
        unsubscribe()
        assert seen == [
            "message_sent",
            "message_edited",
            "message_pinned",
            "message_sent",
            "message_deleted",
        ]
        first = b""
        async with asyncio.timeout(WAIT):
            while not first.endswith(b"\n\n"):
                first += await sse.content.readline()
        lines = first.decode().splitlines()
        assert lines[0] == "event: message_sent"
        data = json.loads(lines[1].removeprefix("data: "))
        assert (data["chat_id"], data["message"]["text"]) == (user.id, "Live")
    stream.close()


async def test_http_photos_and_user_edits(tg: TelegramSandbox) -> None:
    account = tg.control.create_bot("desk_bot")
    user = tg.control.create_user("Ann")
    async with aiohttp.ClientSession() as s:
        said = await control(
            s,
            tg,
            f"/chats/{user.id}/messages",
            {"user_id": user.id, "text": "hi", "bot": "desk_bot"},
        )
        path = f"/chats/{user.id}/messages/{said['message_id']}/edit"
        edited = await control(
            s, tg, path, {"user_id": user.id, "text": "hello", "bot": "desk_bot"}
        )
        assert (edited["text"], edited["history"][0]["text"]) == ("hello", "hi")
        async with ptb_bot(tg, account.token) as bot:
            up = await bot.send_photo(user.id, b"JPEG!", caption="<b>Scene</b>", parse_mode="HTML")
            await bot.send_photo(user.id, "https://example.org/p.jpg")
        shown = await control(s, tg, f"/chats/{user.id}/transcript?bot=desk_bot")
        assert [(m["photo_url"], m["html"]) for m in shown[1:]] == [
            (None, "<b>Scene</b>"),
            ("https://example.org/p.jpg", ""),
        ]
        async with s.get(f"{tg.url}/_sandbox/telegram/files/{up.photo[-1].file_id}") as resp:
            assert (resp.status, await resp.read()) == (200, b"JPEG!")
        async with s.get(f"{tg.url}/_sandbox/telegram/files/nope") as resp:
            assert resp.status == 404
