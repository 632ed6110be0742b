"""A photo from the media store (`relay.media`) through discord.py and the sandbox: uploaded with
the first message as the attachment its embed shows; edits upload it again or take it away."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from relay_sandbox.discord import DiscordSandbox
from relay_sandbox.discord import permissions as P

from relay.adapter import AdapterContext
from relay.adapters.discord import DiscordAdapter
from relay.config import Config
from relay.keys import Keys
from relay.media import MediaStore, media_id
from relay.media_settings import MediaConfig
from relay.model import Destination, Image, Update
from tests.adapters.discord.conftest import make_adapter
from tests.sandbox.discord.conftest import Newsroom

BRIDGE = b"\xff\xd8 the bridge " * 500
DAM = b"\xff\xd8 the dam " * 500


@pytest.fixture
def store(client: aioredis.Redis) -> MediaStore:
    return MediaStore(client, Keys(), 3600, MediaConfig())


@pytest.fixture
async def uploader(discord_config: Config, store: MediaStore) -> AsyncIterator[DiscordAdapter]:
    adapter = make_adapter(discord_config)
    await adapter.start(AdapterContext(media=store))
    yield adapter
    await adapter.aclose()


async def test_a_stored_photo_is_the_messages_attachment_through_edits(
    uploader: DiscordAdapter,
    sandbox: DiscordSandbox,
    newsroom: Newsroom,
    discord_config: Config,
    store: MediaStore,
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    dest = Destination("discord", str(newsroom.live_id))
    url = await store.put(BRIDGE)
    first = Update(id="p1", topic="ukraine", headline="The bridge",
                   image=Image(url, "Dawn.", "Eda"))  # fmt: skip
    ids = await uploader.send(dest, first, topic)
    name = f"{media_id(BRIDGE)}.jpg"
    (view,) = sandbox.control.transcript(newsroom.live_id)
    assert view.attachments == (name,)
    assert view.embeds[0]["image"]["url"] == f"attachment://{name}"
    assert sandbox.control.requests("create_message")[0].files == (name,)

    # The caption changes: the photo is uploaded again in place of the old attachment.
    caption = dataclasses.replace(first, revision=2, image=Image(url, "At dawn.", "Eda"))
    ids = await uploader.edit(dest, caption, topic, ids)
    (view,) = sandbox.control.transcript(newsroom.live_id)
    assert view.attachments == (name,)
    assert "At dawn." in view.embeds[0]["footer"]["text"]

    # A new picture replaces it; removing the photo takes the attachment away.
    dam = await store.put(DAM)
    ids = await uploader.edit(dest, dataclasses.replace(first, revision=3, image=Image(dam)),
                              topic, ids)  # fmt: skip
    (view,) = sandbox.control.transcript(newsroom.live_id)
    assert view.attachments == (f"{media_id(DAM)}.jpg",)
    await uploader.edit(dest, dataclasses.replace(first, revision=4, image=None), topic, ids)
    (view,) = sandbox.control.transcript(newsroom.live_id)
    assert view.attachments == ()
    assert "image" not in view.embeds[0]


async def test_a_photo_by_url_stays_an_embed_image_with_no_upload(
    uploader: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    dest = Destination("discord", str(newsroom.live_id))
    update = Update(id="p2", topic="ukraine", headline="The bridge",
                    image=Image("https://images.example/bridge.jpg"))  # fmt: skip
    await uploader.send(dest, update, topic)
    (view,) = sandbox.control.transcript(newsroom.live_id)
    assert view.attachments == ()
    assert view.embeds[0]["image"]["url"] == "https://images.example/bridge.jpg"
    assert sandbox.control.requests("create_message")[0].files == ()


async def test_a_channel_without_attach_files_gets_the_update_without_the_photo(
    uploader: DiscordAdapter,
    sandbox: DiscordSandbox,
    newsroom: Newsroom,
    discord_config: Config,
    store: MediaStore,
) -> None:
    topic = discord_config.topic("ukraine")
    assert topic is not None
    c = sandbox.control
    bot_role = sandbox.world.guilds[newsroom.guild_id].members[newsroom.bot.bot_user_id].roles[0]
    channel = c.create_channel(newsroom.guild_id, "no-files")
    c.set_overwrite(channel, bot_role, deny=P.ATTACH_FILES)
    url = await store.put(BRIDGE)
    update = Update(id="p3", topic="ukraine", headline="The bridge", image=Image(url, "Dawn."))
    dest = Destination("discord", str(channel))

    async def cached() -> None:  # the gateway's channel events reach discord.py's cache
        while uploader.delivery.missing(channel, "Attach Files") != "Attach Files":  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(cached(), 5)
    ids = await uploader.send(dest, update, topic)  # not Gone: the channel stays subscribed
    (view,) = sandbox.control.transcript(channel)
    assert view.attachments == () and "image" not in view.embeds[0]
    assert view.embeds[0]["title"] == "The bridge" and "Dawn." in view.embeds[0]["footer"]["text"]
    edited = dataclasses.replace(update, revision=2, headline="The bridge, later")
    assert await uploader.edit(dest, edited, topic, ids) == ids
    (view,) = sandbox.control.transcript(channel)
    assert view.embeds[0]["title"] == "The bridge, later" and view.attachments == ()
