"""Photos across platforms, end to end: `relay run` (a subprocess, the test Valkey) against the
Telegram and Discord sandboxes (this process, loopback).

An editor sends a photo to the bot in Telegram (an upload: no URL anyone else can read) with the
caption `/post …`. Every Telegram chat shows that photo, and the Discord channel shows it as an
attachment of the relay's message, its embed pointing at it; an `/edit` of the headline reaches
every copy and keeps the picture. A photo past `media.max_image_mb` is refused with the reason,
and nothing is published.

A Discord editor runs `/post` with a photo file attached: the form asks for its caption and
credit, the Telegram chats get the photo (uploaded once, then by file id) and the Discord channel
shows it as the relay's own attachment.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from relay_sandbox.discord import InteractionResult
from relay_sandbox.discord.server import DiscordSandbox
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.server import TelegramSandbox

from relay.config import Config
from relay.media import media_id

from .conftest import BASE_CONFIG
from .helpers import KEYS, free_port, start_relay, stop_relay
from .test_busy_hour import settled, until

PUBLISHED = re.compile(r"Published update (\S+) to")
WITHIN = 60.0  # a guard against hanging only
PHOTO = b"\xff\xd8\xff\xe0 a bridge at dawn " * 1000  # 20 KB: under the limit below
BETTER = b"\xff\xd8\xff\xe0 the dam at dusk " * 1000
TOO_BIG = b"\xff\xd8\xff\xe0 a huge panorama " * 5000  # 95 KB: over it


class World:
    """The sandboxes, an editor, two Telegram groups and a Discord channel; `relay run`."""

    def __init__(self, tg: TelegramSandbox, dc: DiscordSandbox) -> None:
        self.tg, self.dc = tg, dc
        self.bot = tg.control.create_bot("relay_bot", first_name="Newsroom")
        self.editor = tg.control.create_user("Eda", username="eda")
        owner = tg.control.create_user("Olga")
        self.groups = []
        for i in range(2):
            group = tg.control.create_chat("supergroup", f"Readers {i}", creator=owner.id)
            tg.control.add_bot(group.id, self.bot)
            self.groups.append(group.id)
        self.app = dc.control.create_application("live-relay")
        self.guild = dc.control.create_guild("Newsroom")
        dc.control.invite_bot(self.app.application_id, self.guild)
        self.channel = dc.control.create_channel(self.guild, "live")
        self.desk = dc.control.create_channel(self.guild, "desk")  # where editors run commands
        self.discord_editor = dc.control.add_member(self.guild, name="dora")
        self.port = free_port()
        self.proc: asyncio.subprocess.Process | None = None

    def write_config(self, path: Path, redis_url: str | None) -> None:
        channels = [{"destination": f"telegram:{g}", "topics": ["ukraine"]} for g in self.groups]
        channels.append({"destination": f"discord:{self.channel}", "topics": ["ukraine"]})
        data: dict[str, Any] = {
            **BASE_CONFIG,
            "redis": {"url": redis_url},
            "editors": {"telegram_users": [self.editor.id],
                        "discord_users": [self.discord_editor]},
            "channels": channels,
            "console": {"enabled": False},
            "api": {"enabled": True, "port": self.port},
            "media": {"max_image_mb": 0.05},
            "telegram": {"enabled": True, "api_url": self.tg.base_url},
            "discord": {"enabled": True, "api_url": self.dc.api_base,
                        "gateway_url": self.dc.gateway_url, "command_guild_ids": [self.guild]},
        }  # fmt: skip
        path.write_text(yaml.safe_dump(data))

    async def start(self, path: Path, redis_url: str | None) -> None:
        self.write_config(path, redis_url)
        env = {**os.environ, "TELEGRAM_TOKEN": self.bot.token, "DISCORD_TOKEN": self.app.token,
               "RELAY_API_TOKEN": "photos-token"}  # fmt: skip
        self.proc = await start_relay(path, env, self.port, path.with_suffix(".log"))

    async def stop(self) -> None:
        await stop_relay(self.proc)

    def replies(self) -> list[str]:
        return [m.content for m in self.tg.control.transcript(self.editor.id, bot=self.bot)
                if m.sender_id == self.bot.id]  # fmt: skip


def answered_in_full(r: InteractionResult) -> bool:
    """The interaction's answer is there (a deferred one once edited in)."""
    return r.original is not None and not (r.response_type == 5 and r.original.edited_at is None)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with (
        TelegramSandbox(limits=TelegramLimits.off()) as tg,
        DiscordSandbox() as dc,
    ):
        w = World(tg, dc)
        try:
            yield w
        finally:
            await w.stop()


@pytest.mark.timeout(180)
async def test_an_editors_telegram_photo_reaches_every_chat_and_discord_as_an_upload(
    world: World, tmp_path: Path, config: Config, client: aioredis.Redis
) -> None:
    tg, dc, bot = world.tg, world.dc, world.bot
    await world.start(tmp_path / "relay.yaml", config.redis.url)
    tg.control.send_message(world.editor.id, "hello", bot=bot)
    sent = tg.control.send_message(
        world.editor.id, bot=bot, photo=PHOTO,
        caption="/post ukraine Bridge reopens\nTraffic crosses again at dawn.",
    )  # fmt: skip
    editor_file = sent.photo

    async def published() -> bool:
        return any(PUBLISHED.search(r) for r in world.replies())

    await until(published, within=WITHIN)
    update_id = next(m.group(1) for r in world.replies() if (m := PUBLISHED.search(r)))
    await until(lambda: settled(client, [update_id]), within=WITHIN)

    # Every Telegram group shows the editor's picture, sent by the file id Telegram gave it:
    # the relay downloaded it once (getFile) and uploaded it to no one.
    for group in world.groups:
        (shown,) = tg.control.transcript(group)
        assert shown.photo == editor_file
        assert "Bridge reopens" in (shown.caption or "")
    assert len(tg.control.requests("getFile")) == 1
    photos = [r.params["photo"] for r in tg.control.requests("sendPhoto")]
    assert photos == [editor_file, editor_file]

    # Discord: the message carries the photo as its attachment, and the embed shows it.
    name = f"{media_id(PHOTO)}.jpg"
    (message,) = dc.control.transcript(world.channel)
    assert message.attachments == (name,)
    assert message.embeds[0]["image"]["url"] == f"attachment://{name}"
    assert message.embeds[0]["title"] == "Bridge reopens"
    (created,) = dc.control.requests("create_message")
    assert created.files == (name,)

    # The editor corrects the headline: every copy shows it, with the same picture.
    tg.control.send_message(world.editor.id, f"/edit {update_id} Bridge reopens to traffic",
                            bot=bot)  # fmt: skip

    async def edited() -> bool:
        return sum("Edited update" in r for r in world.replies()) == 1

    await until(edited, within=WITHIN)
    await until(lambda: settled(client, [update_id]), within=WITHIN)
    for group in world.groups:
        (shown,) = tg.control.transcript(group)
        assert shown.photo == editor_file
        assert "Bridge reopens to traffic" in (shown.caption or "")
    (message,) = dc.control.transcript(world.channel)
    assert message.embeds[0]["title"] == "Bridge reopens to traffic"
    assert message.attachments == (name,)  # uploaded again, in place of the old one
    assert message.embeds[0]["image"]["url"] == f"attachment://{name}"

    # A photo over media.max_image_mb (0.05 here): the editor is told, nothing is published.
    tg.control.send_message(world.editor.id, bot=bot, photo=TOO_BIG,
                            caption="/post ukraine A huge panorama")  # fmt: skip

    async def refused() -> bool:
        return any("the relay takes photos up to 0.05 MB" in r for r in world.replies())

    await until(refused, within=WITHIN)
    refusal = next(r for r in world.replies() if "takes photos up to" in r)
    assert "Nothing was posted" in refusal
    assert sum(bool(PUBLISHED.search(r)) for r in world.replies()) == 1
    assert len(tg.control.requests("getFile")) == 1  # not even downloaded
    stored = await client.keys("relay:{media}:photo:*")
    assert [k.decode().rsplit(":", 1)[1] for k in stored] == [media_id(PHOTO)]
    assert json.dumps(dc.control.transcript(world.channel)[0].embeds).count("panorama") == 0

    # A photo with a topic that does not exist: refused before the photo is downloaded or kept.
    tg.control.send_message(world.editor.id, bot=bot, photo=BETTER,
                            caption="/post ukrane Typo in the topic")  # fmt: skip

    async def unknown() -> bool:
        return any("ukrane" in r for r in world.replies())

    await until(unknown, within=WITHIN)
    assert len(tg.control.requests("getFile")) == 1
    assert len(await client.keys("relay:{media}:photo:*")) == 1


async def test_a_photo_attached_on_discord_reaches_telegram_and_discord(
    world: World, tmp_path: Path, config: Config, client: aioredis.Redis
) -> None:
    tg, dc = world.tg, world.dc
    await world.start(tmp_path / "relay.yaml", config.redis.url)
    ids = (world.app.application_id, world.guild, world.desk, world.discord_editor)

    async def synced() -> bool:
        return any(c.name == "post" for c in dc.world.commands.values())

    await until(synced, within=WITHIN)

    async def post(photo: bytes, headline: str) -> str:
        """/post with the photo attached, then the form: the editor's answer."""
        opened = dc.control.invoke(*ids, "post", {"topic": "ukraine"},
                                   attachments={"photo": ("dam.jpg", photo)})  # fmt: skip
        form = await opened.response(within=WITHIN)
        assert form.response_type == 9 and form.response_data is not None  # a modal
        fields = [c["components"][0]["custom_id"] for c in form.response_data["components"]]
        assert fields == ["headline", "body", "link", "caption", "credit"]
        submitted = dc.control.submit_modal(*ids, "relay:post", {
            "headline": headline, "body": "The water keeps rising.", "link": "",
            "caption": "The dam at noon.", "credit": "Dora Diaz",
        })  # fmt: skip
        answered = await submitted.wait(answered_in_full, within=WITHIN)
        assert answered.original is not None
        return answered.original.content

    # /preview with the photo: the answer shows the embed with the photo as its own
    # attachment; nothing is kept in the media store, nothing is published.
    opened = dc.control.invoke(*ids, "preview", {"topic": "ukraine"},
                               attachments={"photo": ("dam.jpg", PHOTO)})  # fmt: skip
    form = await opened.response(within=WITHIN)
    assert form.response_type == 9  # the same form as /post's
    previewed = dc.control.submit_modal(*ids, "relay:preview", {
        "headline": "Dam breached", "body": "The water keeps rising.", "link": "",
        "caption": "The dam at noon.", "credit": "Dora Diaz",
    })  # fmt: skip
    shown = (await previewed.wait(answered_in_full, within=WITHIN)).original
    assert shown is not None and shown.content.startswith("Preview (not published)")
    name = f"{media_id(PHOTO)}.jpg"
    assert shown.attachments == (name,)
    assert shown.embeds[0]["image"]["url"] == f"attachment://{name}"
    assert "The dam at noon." in shown.embeds[0]["footer"]["text"]
    assert await client.keys(KEYS.media("*")) == []
    assert await client.xlen(KEYS.updates) == 0
    assert dc.control.requests("create_message") == []

    # A topic that does not exist: refused before the photo is downloaded into the store.
    opened = dc.control.invoke(*ids, "post", {"topic": "ukrane"},
                               attachments={"photo": ("dam.jpg", PHOTO)})  # fmt: skip
    assert (await opened.response(within=WITHIN)).response_type == 9
    typo = dc.control.submit_modal(*ids, "relay:post", {
        "headline": "Dam breached", "body": "", "link": "", "caption": "", "credit": "",
    })  # fmt: skip
    refused = (await typo.wait(answered_in_full, within=WITHIN)).original
    assert refused is not None and "ukrane" in refused.content, refused
    assert await client.keys("relay:{media}:photo:*") == []

    reply = await post(PHOTO, "Dam breached")
    assert reply.startswith("Published update "), reply
    update_id = reply.split()[2]
    await until(lambda: settled(client, [update_id]), within=WITHIN)

    # Telegram: both groups show the photo, uploaded once, then sent by the answered file id.
    shown = [tg.control.transcript(g)[0] for g in world.groups]
    assert all(tg.engine.world.files[str(s.photo)] == PHOTO for s in shown)
    assert shown[0].photo == shown[1].photo
    assert all("The dam at noon." in (s.caption or "") and "Dora Diaz" in (s.caption or "")
               for s in shown)  # fmt: skip
    sent = [r.params["photo"] for r in tg.control.requests("sendPhoto")]
    assert isinstance(sent[0], dict) and sent[0]["size"] == len(PHOTO)
    assert sent[1] == shown[0].photo

    # Discord: the relay's message carries its own copy of the photo, caption and credit below.
    (message,) = dc.control.transcript(world.channel)
    assert message.attachments == (f"{media_id(PHOTO)}.jpg",)
    assert "The dam at noon." in message.embeds[0]["footer"]["text"]

    # The editor corrects the caption in the /edit form: every copy shows it, same picture.
    form = await dc.control.invoke(*ids, "edit", {"id": update_id}).response(within=WITHIN)
    assert form.response_data is not None
    shown_fields = {c["components"][0]["custom_id"]: c["components"][0].get("value")
                    for c in form.response_data["components"]}  # fmt: skip
    url = f"https://media.invalid/{media_id(PHOTO)}"
    assert shown_fields["image"] == f"{url}\nDora Diaz\nThe dam at noon."
    edit = dc.control.submit_modal(*ids, "relay:edit", {
        "headline": "Dam breached", "body": "The water keeps rising.", "link": "",
        "image": f"{url}\nDora Diaz\nThe dam at noon, from the east bank.",
    })  # fmt: skip
    edited = await edit.wait(answered_in_full, within=WITHIN)
    assert edited.original is not None and "Edited update" in edited.original.content
    await until(lambda: settled(client, [update_id]), within=WITHIN)
    for group in world.groups:
        (copy,) = tg.control.transcript(group)
        assert "from the east bank" in (copy.caption or "") and copy.photo == shown[0].photo
    assert len(tg.control.requests("editMessageCaption")) == 2  # the picture stays in place
    (message,) = dc.control.transcript(world.channel)
    assert "from the east bank" in message.embeds[0]["footer"]["text"]
    assert message.attachments == (f"{media_id(PHOTO)}.jpg",)

    # A better picture, attached to /edit: the form shows the caption and credit to keep.
    opened = dc.control.invoke(*ids, "edit", {"id": update_id},
                               attachments={"photo": ("dam-2.jpg", BETTER)})  # fmt: skip
    form = await opened.response(within=WITHIN)
    assert form.response_data is not None
    fields = {c["components"][0]["custom_id"]: c["components"][0].get("value")
              for c in form.response_data["components"]}  # fmt: skip
    assert list(fields) == ["headline", "body", "link", "caption", "credit"]
    assert fields["caption"] == "The dam at noon, from the east bank."
    edit = dc.control.submit_modal(*ids, "relay:edit", {
        "headline": "Dam breached", "body": "The water keeps rising.", "link": "",
        "caption": "The dam at dusk.", "credit": "Dora Diaz",
    })  # fmt: skip
    edited = await edit.wait(answered_in_full, within=WITHIN)
    assert edited.original is not None and "Edited update" in edited.original.content
    await until(lambda: settled(client, [update_id]), within=WITHIN)
    shown = [tg.control.transcript(g)[0] for g in world.groups]
    assert all(tg.engine.world.files[str(s.photo)] == BETTER for s in shown)
    assert all("The dam at dusk." in (s.caption or "") for s in shown)
    media = [r.params["media"] for r in tg.control.requests("editMessageMedia")]
    assert len(media) == 2 and "attach://" in media[0] and "attach://" not in media[1]
    (message,) = dc.control.transcript(world.channel)
    assert message.attachments == (f"{media_id(BETTER)}.jpg",)

    # Too big for media.max_image_mb: refused, not downloaded, nothing published.
    refused = await post(TOO_BIG, "A huge panorama")
    assert "takes photos up to 0.05 MB" in refused and "Nothing was posted" in refused
    assert len(dc.control.transcript(world.channel)) == 1
    assert sorted(await client.keys("relay:{media}:photo:*")) == sorted(
        f"relay:{{media}}:photo:{media_id(p)}".encode() for p in (PHOTO, BETTER)
    )
