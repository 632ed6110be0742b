"""`/settings` end to end: `relay run` as a subprocess against the sandboxes and the test Valkey.

A reader in a private chat and a group's admin change their settings with the menu's buttons;
a group member who is no admin is refused; the sender obeys each setting (read from the
sandbox's request log and transcripts): routine updates silent, link previews off, and no copy
of a routine update in a chat that wants breaking news only. `relay subscriptions` shows them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from relay_sandbox.discord.server import DiscordSandbox
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.render import DisplayedMessage
from relay_sandbox.telegram.server import TelegramSandbox

from relay.config import Config

from .conftest import BASE_CONFIG
from .helpers import call_api, free_port, start_relay, stop_relay
from .test_busy_hour import settled, until

API_TOKEN = "settings-api-token"


class Run:
    """`relay run` with the sandboxes' Telegram bot and Discord app, and the API to post."""

    def __init__(self, tg: TelegramSandbox, dc: DiscordSandbox) -> None:
        self.tg, self.dc = tg, dc
        self.bot = tg.control.create_bot("relay_bot", first_name="Newsroom")
        self.app = dc.control.create_application("relay")
        self.port = free_port()
        self.proc: asyncio.subprocess.Process | None = None
        self.cfg: Path | None = None

    async def start(self, tmp: Path, redis_url: str | None, **sections: Any) -> None:
        data: dict[str, Any] = {
            **BASE_CONFIG, **sections, "redis": {"url": redis_url}, "console": {"enabled": False},
            "api": {"enabled": True, "port": self.port},
            "telegram": {"enabled": True, "api_url": self.tg.base_url, "token_env": "TG_TOKEN"},
            "discord": {"enabled": True, "api_url": self.dc.api_base,
                        "gateway_url": self.dc.gateway_url, "token_env": "DC_TOKEN"},
        }  # fmt: skip
        self.cfg = tmp / "relay.yaml"
        self.cfg.write_text(yaml.safe_dump(data))
        env = {**os.environ, "TG_TOKEN": self.bot.token, "DC_TOKEN": self.app.token,
               "RELAY_API_TOKEN": API_TOKEN}  # fmt: skip
        self.proc = await start_relay(self.cfg, env, self.port, tmp / "relay.log")

    async def stop(self) -> None:
        await stop_relay(self.proc)

    async def post(self, **update: Any) -> str:
        return str((await call_api(self.port, API_TOKEN, "POST", "/updates", update))["id"])

    def cli(self, *args: str) -> str:
        assert self.cfg is not None
        done = subprocess.run([sys.executable, "-m", "relay.cli", "--config", str(self.cfg),
                               *args], capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def shown(self, chat: int) -> list[DisplayedMessage]:
        private = self.bot if chat > 0 else None
        return list(self.tg.control.transcript(chat, bot=private))

    async def menu(self, chat: int, want: Callable[[list[str]], bool]) -> DisplayedMessage:
        """The bot's latest message with a keyboard in `chat`, once its labels satisfy `want`."""
        found: list[DisplayedMessage] = []

        async def ready() -> bool:
            menus = [m for m in self.shown(chat) if m.sender_id == self.bot.id and m.reply_markup]
            found[:] = menus[-1:]
            return bool(found) and want(labels(found[0]))

        await until(ready, within=30, every=0.05)
        return found[0]

    async def press(self, user: int, chat: int, msg: DisplayedMessage, data: str) -> Any:
        """Press a button; the bot's answer to the callback query."""
        private = self.bot if chat > 0 else None
        query = self.tg.control.press_button(user, chat, msg.message_id, data, bot=private)
        await until(lambda: _true(self.tg.control.callback_answer(query) is not None), within=30)
        return self.tg.control.callback_answer(query)


def labels(msg: DisplayedMessage) -> list[str]:
    assert msg.reply_markup is not None
    return [b["text"] for row in msg.reply_markup["inline_keyboard"] for b in row]


async def _true(value: bool) -> bool:
    return value


@pytest.fixture
async def run() -> AsyncIterator[Run]:
    async with TelegramSandbox(limits=TelegramLimits.off()) as tg, DiscordSandbox() as dc:
        world = Run(tg, dc)
        try:
            yield world
        finally:
            await world.stop()


@pytest.mark.timeout(300)
async def test_settings_menus_change_what_each_chat_receives(
    run: Run, tmp_path: Path, config: Config, client: aioredis.Redis
) -> None:
    tg = run.tg
    reader = tg.control.create_user("Ann")
    owner, member = tg.control.create_user("Olga"), tg.control.create_user("Max")
    group = tg.control.create_chat("supergroup", "Readers", creator=owner.id).id
    tg.control.add_bot(group, run.bot)
    tg.control.set_member(group, member, "member")
    await run.start(tmp_path, config.redis.url)

    # A reader, in a private chat: routine updates silent, link previews off.
    tg.control.send_message(reader.id, "/subscribe ukraine", bot=run.bot)
    tg.control.send_message(reader.id, "/settings", bot=run.bot)
    menu = await run.menu(reader.id, lambda ls: "Routine updates: with a notification "
                          "(topic default)" in ls)  # fmt: skip
    assert "War in Ukraine" in (menu.text or "")
    answer = await run.press(reader.id, reader.id, menu, "set:ukraine:silent")
    assert answer["text"] == "War in Ukraine: Routine updates is now silent."
    menu = await run.menu(reader.id, lambda ls: "Routine updates: silent" in ls)
    for _ in range(2):  # default → on → off
        await run.press(reader.id, reader.id, menu, "set:ukraine:previews")
    await run.menu(reader.id, lambda ls: "Link previews: off" in ls)

    # A group: a member who is no admin is refused; the owner chooses breaking news only.
    tg.control.send_message(owner.id, "/subscribe ukraine", chat_id=group)
    await until(lambda: _true(any(m.content.startswith("Subscribed") for m in run.shown(group))),
                within=30)  # fmt: skip
    tg.control.send_message(owner.id, "/settings", chat_id=group)
    menu = await run.menu(group, lambda ls: "Breaking news only: no" in ls)
    refused = await run.press(member.id, group, menu, "set:ukraine:breaking_only")
    assert refused["show_alert"] is True and "administrators" in refused["text"]
    answer = await run.press(owner.id, group, menu, "set:ukraine:breaking_only")
    assert answer["text"] == "War in Ukraine: Breaking news only is now yes."
    await run.menu(group, lambda ls: "Breaking news only: yes" in ls)

    assert await asyncio.to_thread(run.cli, "subscriptions", "telegram", str(group)) == (
        f"telegram:{group}: ukraine (breaking only)"
    )
    assert await asyncio.to_thread(run.cli, "subscriptions", "telegram", str(reader.id)) == (
        f"telegram:{reader.id}: ukraine (silent on, previews off)"
    )

    # The sender obeys them.
    routine = await run.post(topic="ukraine", headline="Bridge reopens",
                             link="https://example.org/bridge")  # fmt: skip
    breaking = await run.post(topic="ukraine", headline="Air raid alert", breaking=True)
    await until(lambda: settled(client, [routine, breaking]), within=60)
    sends = [r for r in tg.control.requests("sendMessage") if r.status == 200]
    [quiet] = [m for m in run.shown(reader.id) if "Bridge reopens" in m.content]
    assert quiet.disable_notification is True
    assert quiet.link_preview_options == {"is_disabled": True}
    [loud] = [m for m in run.shown(reader.id) if "Air raid alert" in m.content]
    assert loud.disable_notification is False  # breaking news always notifies
    in_group = [r.params["text"] for r in sends if int(r.params["chat_id"]) == group]
    assert not any("Bridge reopens" in t for t in in_group)
    assert any("Air raid alert" in t for t in in_group)


@pytest.mark.timeout(300)
async def test_discord_settings_are_select_menus_for_channel_managers(
    run: Run, tmp_path: Path, config: Config, client: aioredis.Redis
) -> None:
    dc, app_id = run.dc, run.app.application_id
    owner = dc.control.create_user("olga")
    guild = dc.control.create_guild("Newsroom", owner_id=owner)
    dc.control.invite_bot(app_id, guild)
    channel = dc.control.create_channel(guild, "live")
    member = dc.control.add_member(guild, name="max")  # no Manage Channels
    await run.start(tmp_path, config.redis.url)

    async def answer(handle: Any) -> Any:
        done = await handle.wait(lambda r: r.original is not None, within=30)
        return done.original

    subscribed = dc.control.invoke(app_id, guild, channel, owner, "subscribe", {"topic": "climate"})
    assert "Subscribed" in (await answer(subscribed)).content
    menu = await answer(dc.control.invoke(app_id, guild, channel, owner, "settings", {}))
    assert menu.ephemeral
    [row] = menu.components
    [select] = row["components"]
    assert select["custom_id"] == "relay:settings:climate"
    values = [o["value"] for o in select["options"]]
    assert values == ["set:climate:silent", "set:climate:breaking_only", "set:climate:digest"]
    assert "Routine updates: silent (topic default)" in menu.content

    def choose(user: int, value: str) -> Any:
        return dc.control.choose(app_id, guild, channel, user, menu.id, select["custom_id"],
                                 [value])  # fmt: skip

    refused = await answer(choose(member, "set:climate:digest"))
    assert refused.id != menu.id and "Manage Channels" in refused.content
    for _ in range(2):  # default (the topic is silent) → on → off: with a notification
        handle = choose(owner, "set:climate:silent")
        await handle.response(within=30)
    updated = handle.result().original
    assert updated.id == menu.id
    assert "Climate summit: Routine updates is now with a notification." in updated.content
    assert await asyncio.to_thread(run.cli, "subscriptions", "discord", str(channel)) == (
        f"discord:{channel}: climate (silent off)"
    )

    posted = await run.post(topic="climate", headline="Talks resume")
    await until(lambda: settled(client, [posted]), within=60)
    [sent] = [r.body for r in dc.control.requests("create_message")
              if r.status == 200 and "Talks resume" in str(r.body)]  # fmt: skip
    assert not int(sent.get("flags") or 0) & 4096  # SUPPRESS_NOTIFICATIONS: not for this channel


@pytest.mark.timeout(300)
async def test_recent_lists_an_editors_posts_to_edit_or_delete(
    run: Run, tmp_path: Path, config: Config, client: aioredis.Redis
) -> None:
    tg = run.tg
    editor, reader = tg.control.create_user("Eda"), tg.control.create_user("Ann")
    await run.start(tmp_path, config.redis.url, editors={"telegram_users": [editor.id]})
    tg.control.send_message(reader.id, "/subscribe ukraine", bot=run.bot)
    await until(lambda: _true(any(m.content.startswith("Subscribed")
                                  for m in run.shown(reader.id))), within=30)  # fmt: skip
    tg.control.send_message(reader.id, "/recent", bot=run.bot)
    await until(lambda: _true(any("Only the newsroom's editors" in m.content
                                  for m in run.shown(reader.id))), within=30)  # fmt: skip
    for headline in ("Ferry resumes", "Bridge closed"):
        tg.control.send_message(editor.id, f"/post ukraine {headline}", bot=run.bot)
        await until(lambda h=headline: _true(any(h in m.content for m in run.shown(reader.id))),
                    within=30)  # fmt: skip

    tg.control.send_message(editor.id, "/recent", bot=run.bot)
    menu = await run.menu(editor.id, lambda ls: len(ls) == 4)
    assert menu.content.index("Bridge closed") < menu.content.index("Ferry resumes")  # newest
    data = [b["callback_data"] for row in menu.reply_markup["inline_keyboard"] for b in row]
    edit_bridge, _, delete_bridge, _ = data
    assert edit_bridge.startswith("edit:") and delete_bridge.startswith("del:")
    bridge = delete_bridge.removeprefix("del:")

    refused = await run.press(reader.id, editor.id, menu, delete_bridge)  # a forged press
    assert refused["show_alert"] is True and "editors" in refused["text"]
    await run.press(editor.id, editor.id, menu, edit_bridge)
    await until(lambda: _true(any(f"/edit {bridge} Bridge closed" in m.content
                                  for m in run.shown(editor.id))), within=30)  # fmt: skip
    await run.press(editor.id, editor.id, menu, delete_bridge)
    confirm = await run.menu(editor.id, lambda ls: ls == ["Yes, delete it everywhere",
                                                          "No, keep it"])  # fmt: skip
    answer = await run.press(editor.id, editor.id, confirm, f"delok:{bridge}")
    assert answer["text"] == f"Deleted update {bridge}; every copy is being removed."
    left = ["Edit… · Ferry resumes", "Delete… · Ferry resumes"]  # only the ferry is left
    after = await run.menu(editor.id, lambda ls: ls == left)
    assert "Bridge closed" not in after.content.split("newest first:")[1]
    await until(lambda: settled(client, [bridge]), within=60)
    assert [m.content for m in run.shown(reader.id) if "Bridge closed" in m.content] == []
    assert any("Ferry resumes" in m.content for m in run.shown(reader.id))


@pytest.mark.timeout(300)
async def test_discord_recent_opens_the_edit_form_and_deletes_after_a_confirmation(
    run: Run, tmp_path: Path, config: Config, client: aioredis.Redis
) -> None:
    dc, app_id = run.dc, run.app.application_id
    editor = dc.control.create_user("eda")
    guild = dc.control.create_guild("Newsroom", owner_id=editor)
    dc.control.invite_bot(app_id, guild)
    channel = dc.control.create_channel(guild, "live")
    await run.start(tmp_path, config.redis.url, editors={"discord_users": [editor]})

    async def answer(handle: Any) -> Any:
        return await handle.wait(lambda r: r.original is not None or r.response_type == 9,
                                 within=30)  # fmt: skip

    subscribed = dc.control.invoke(
        app_id, guild, channel, editor, "subscribe", {"topic": "ukraine"}
    )
    await answer(subscribed)
    form = dc.control.invoke(app_id, guild, channel, editor, "post", {"topic": "ukraine"})
    await answer(form)
    posted = dc.control.submit_modal(app_id, guild, channel, editor, "relay:post",
                                     {"headline": "Dam holds", "body": "", "link": ""})  # fmt: skip
    await answer(posted)
    await until(lambda: _true(any("Dam holds" in m.embeds_json
                                  for m in dc.control.transcript(channel))), within=30)  # fmt: skip

    menu = (await answer(dc.control.invoke(app_id, guild, channel, editor, "recent", {}))).original
    assert menu.ephemeral and "Dam holds" in menu.content
    edit_select, delete_select = (row["components"][0] for row in menu.components)
    assert (edit_select["custom_id"], delete_select["custom_id"]) == (
        "relay:recent:edit", "relay:recent:delete")  # fmt: skip
    [edit_value] = [o["value"] for o in edit_select["options"]]
    update_id = edit_value.removeprefix("edit:")

    def choose(message: Any, select: str, value: str) -> Any:
        return dc.control.choose(app_id, guild, channel, editor, message.id, select, [value])

    opened = await answer(choose(menu, "relay:recent:edit", edit_value))
    assert opened.response_type == 9 and opened.response_data["custom_id"] == "relay:edit"
    confirm = (await answer(choose(menu, "relay:recent:delete", f"del:{update_id}"))).original
    assert confirm.id == menu.id and f"Delete update {update_id} (Dam holds)" in confirm.content
    [row] = confirm.components
    done = await answer(choose(confirm, row["components"][0]["custom_id"], f"delok:{update_id}"))
    assert f"Deleted update {update_id}" in done.original.content
    await until(lambda: settled(client, [update_id]), within=60)
    copies = [m for m in dc.control.transcript(channel) if "Dam holds" in m.embeds_json]
    assert copies and all(m.deleted for m in copies)
