"""A photo from the media store (`relay.media`) through the real python-telegram-bot and the
sandbox: uploaded once per bot, then sent by the file id Telegram answered with."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from relay_sandbox.telegram.records import Bot
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapter import AdapterContext
from relay.adapters.telegram import TelegramAdapter
from relay.config import Config, TopicConfig
from relay.errors import Rejected
from relay.keys import Keys
from relay.media import MediaStore, ref
from relay.media_settings import MediaConfig
from relay.model import Destination, Image, Update

UKRAINE = TopicConfig("ukraine", "War in Ukraine", hashtag="#Ukraine")
BRIDGE = b"\xff\xd8 the bridge " * 500
DAM = b"\xff\xd8 the dam " * 500


@pytest.fixture
def store(client: aioredis.Redis) -> MediaStore:
    return MediaStore(client, Keys(), 3600, MediaConfig())


@pytest.fixture
async def uploader(
    tg_config: Callable[..., Config], store: MediaStore
) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(tg_config(), poll_timeout=1.0)
    await adapter.start(AdapterContext(media=store))
    yield adapter
    await adapter.aclose()


def readers(tg: TelegramSandbox, account: Bot, n: int) -> list[Destination]:
    found = []
    for i in range(n):
        user = tg.control.create_user(f"Reader {i}")
        tg.control.send_message(user.id, "hi", bot=account)
        found.append(Destination("telegram", str(user.id)))
    return found


def uploads(tg: TelegramSandbox, method: str) -> list[object]:
    """What each call of `method` sent as its photo: a dict for an upload, else a file id."""
    calls = tg.control.requests(method)
    return [c.params.get("photo", c.params.get("media")) for c in calls if c.status == 200]


async def test_a_stored_photo_is_uploaded_once_then_sent_by_its_file_id(
    tg: TelegramSandbox, account: Bot, uploader: TelegramAdapter, store: MediaStore
) -> None:
    url = await store.put(BRIDGE)
    update = Update(id="p1", topic="ukraine", headline="The bridge", image=Image(url, "Dawn."))
    chats = readers(tg, account, 3)
    copies = [await uploader.send(chat, update, UKRAINE) for chat in chats]
    sent = uploads(tg, "sendPhoto")
    assert isinstance(sent[0], dict) and sent[0]["size"] == len(BRIDGE)  # the bytes, once
    shown = [tg.control.transcript(int(c.chat_id), bot=account)[-1] for c in chats]
    file_id = shown[0].photo
    assert sent[1:] == [file_id, file_id]
    assert all(s.photo == file_id for s in shown)
    assert tg.engine.world.files[str(file_id)] == BRIDGE

    # A new stored picture: editMessageMedia uploads it once too, then reuses its file id.
    dam = await store.put(DAM)
    changed = dataclasses.replace(update, revision=2, image=Image(dam, "Dusk."))
    for chat, ids in zip(chats, copies, strict=True):
        await uploader.edit(chat, changed, UKRAINE, ids)
    media = [m for m in uploads(tg, "editMessageMedia")]
    assert len(media) == 3
    shown = [tg.control.transcript(int(c.chat_id), bot=account)[-1] for c in chats]
    assert tg.engine.world.files[str(shown[0].photo)] == DAM
    assert all(s.photo == shown[0].photo for s in shown)
    assert all("Dusk." in (s.caption or "") for s in shown)
    uploaded = [r for r in tg.control.requests("editMessageMedia") if "attach" in str(r.params)]
    assert len(uploaded) == 1


async def test_a_photo_no_longer_stored_is_rejected_not_sent_broken(
    tg: TelegramSandbox, account: Bot, uploader: TelegramAdapter
) -> None:
    (chat,) = readers(tg, account, 1)
    update = Update(id="p2", topic="ukraine", headline="Gone", image=Image(ref("0" * 32)))
    with pytest.raises(Rejected, match="no longer in the relay's media store"):
        await uploader.send(chat, update, UKRAINE)
    assert tg.control.requests("sendPhoto") == []


async def test_copies_sent_at_once_wait_for_one_upload(
    tg: TelegramSandbox, account: Bot, uploader: TelegramAdapter, store: MediaStore
) -> None:
    url = await store.put(BRIDGE)
    update = Update(id="p3", topic="ukraine", headline="The bridge", image=Image(url))
    chats = readers(tg, account, 4)
    await asyncio.gather(*(uploader.send(chat, update, UKRAINE) for chat in chats))
    sent = uploads(tg, "sendPhoto")
    assert len(sent) == 4
    assert [isinstance(s, dict) for s in sent].count(True) == 1  # the others used its file id
