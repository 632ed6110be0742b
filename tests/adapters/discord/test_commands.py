"""Slash commands through a real discord.Client: every command, permissions, forms, progress."""

from __future__ import annotations

import dataclasses
from typing import Any

import redis.asyncio as aioredis
from relay_sandbox.discord import DiscordSandbox, InteractionResult, MessageView
from relay_sandbox.discord import permissions as P
from relay_sandbox.discord.state import PUBLIC_THREAD

from relay.adapters.discord import DiscordAdapter
from relay.commands import Commands
from relay.config import Config
from relay.keys import Keys
from relay.media import MediaStore, media_id
from relay.media_settings import MediaConfig
from relay.model import Destination, Image, Update
from relay.registry import Registry
from tests.adapters.discord.conftest import make_adapter
from tests.helpers import Pipeline, listening
from tests.sandbox.discord.conftest import Newsroom


class Member:
    """Runs commands as one member of the newsroom guild, in one channel."""

    def __init__(self, sandbox: DiscordSandbox, newsroom: Newsroom, user_id: int) -> None:
        self.sandbox, self.newsroom, self.user_id = sandbox, newsroom, user_id

    def _ids(self, channel: int | None) -> tuple[int, int, int, int]:
        n = self.newsroom
        return (n.bot.application_id, n.guild_id, channel or n.live_id, self.user_id)

    async def run(
        self, name: str, options: dict[str, Any] | None = None, channel: int | None = None
    ) -> InteractionResult:
        handle = self.sandbox.control.invoke(*self._ids(channel), name, options)
        return await handle.wait(lambda r: r.original is not None and not _loading(r))

    async def open(
        self, name: str, options: dict[str, Any] | None = None, channel: int | None = None
    ) -> InteractionResult:
        return await self.sandbox.control.invoke(*self._ids(channel), name, options).response()

    async def submit(
        self, custom_id: str, values: dict[str, str], channel: int | None = None
    ) -> InteractionResult:
        handle = self.sandbox.control.submit_modal(*self._ids(channel), custom_id, values)
        return await handle.wait(lambda r: r.original is not None and not _loading(r))

    async def complete(self, name: str, options: dict[str, Any], focused: str) -> list[str]:
        handle = self.sandbox.control.autocomplete(*self._ids(None), name, options, focused)
        return [c["value"] for c in (await handle.response()).choices]


def _loading(r: InteractionResult) -> bool:
    return r.response_type == 5 and r.original is not None and r.original.edited_at is None


def text(r: InteractionResult) -> str:
    assert r.original is not None and r.original.ephemeral
    return r.original.content


def posts(sandbox: DiscordSandbox, channel_id: int) -> list[MessageView]:
    """The channel's messages that are not interaction replies."""
    return [v for v in sandbox.control.transcript(channel_id) if v.interaction_id is None]


async def test_commands_are_synced_to_the_configured_guild(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    names = {c.name for c in sandbox.world.commands.values() if c.guild_id == newsroom.guild_id}
    assert names == {"subscribe", "unsubscribe", "subscriptions", "settings", "topics", "help",
                     "post", "preview", "edit", "delete", "recent"}  # fmt: skip
    subscribe = next(c for c in sandbox.world.commands.values() if c.name == "subscribe")
    assert int(subscribe.payload["default_member_permissions"]) == 1 << 4  # Manage Channels


async def test_subscribe_needs_manage_channels_and_the_bots_permissions(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, commands: Commands
) -> None:
    owner = Member(sandbox, newsroom, newsroom.owner_id)
    reader = Member(sandbox, newsroom, newsroom.reader_id)
    live = Destination("discord", str(newsroom.live_id))

    refused = await reader.run("subscribe", {"topic": "ukraine"})
    assert text(refused) == (
        "Only members with the Manage Channels permission in this channel can do that."
    )
    assert await commands.subscriptions.topics(live) == []

    ok = await owner.run("subscribe", {"topic": "ukraine"})
    assert text(ok) == "Subscribed to War in Ukraine (ukraine)."
    assert await commands.subscriptions.topics(live) == ["ukraine"]

    readonly = await owner.run("subscribe", {"topic": "ukraine"}, channel=newsroom.readonly_id)
    assert text(readonly) == (
        "I cannot post here: I am missing the Send Messages, Embed Links permissions in this "
        "channel. Nothing was changed."
    )
    noembed = await owner.run("subscribe", {"topic": "ukraine"}, channel=newsroom.noembed_id)
    assert "missing the Embed Links permission in this channel" in text(noembed)
    for channel in (newsroom.readonly_id, newsroom.noembed_id):
        assert await commands.subscriptions.topics(Destination("discord", str(channel))) == []

    typo = await owner.run("subscribe", {"topic": "ukrane"})
    assert text(typo) == "Unknown topic 'ukrane'. Did you mean ukraine? See /topics."


async def test_subscribing_where_the_bot_cannot_attach_files_says_photos_come_without_it(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, commands: Commands
) -> None:
    """Attach Files is not needed to subscribe (photos by URL are embed images), but uploaded
    photos are left out without it: the channel's manager is told so when subscribing."""
    c = sandbox.control
    bot_role = sandbox.world.guilds[newsroom.guild_id].members[newsroom.bot.bot_user_id].roles[0]
    channel = c.create_channel(newsroom.guild_id, "no-files")
    c.set_overwrite(channel, bot_role, deny=P.ATTACH_FILES)
    owner = Member(sandbox, newsroom, newsroom.owner_id)
    ok = await owner.run("subscribe", {"topic": "ukraine"}, channel=channel)
    assert text(ok) == (
        "Subscribed to War in Ukraine (ukraine). Photos editors upload will arrive here without "
        "the picture until I have the Attach Files permission in this channel."
    )
    assert await commands.subscriptions.topics(Destination("discord", str(channel))) == ["ukraine"]
    again = await owner.run("subscribe", {"topic": "ukraine"})  # where it may: no note
    assert text(again) == "Subscribed to War in Ukraine (ukraine)."


async def test_a_thread_is_subscribed_on_its_own(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, commands: Commands
) -> None:
    owner = Member(sandbox, newsroom, newsroom.owner_id)
    r = await owner.run("subscribe", {"topic": "climate"}, channel=newsroom.thread_id)
    assert text(r) == "Subscribed to Climate summit (climate)."
    thread = Destination("discord", str(newsroom.thread_id))
    assert await commands.subscriptions.topics(thread) == ["climate"]
    assert await commands.subscriptions.topics(Destination("discord", str(newsroom.live_id))) == []


async def test_unsubscribe_subscriptions_topics_and_help(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, editor_id: int
) -> None:
    owner = Member(sandbox, newsroom, newsroom.owner_id)
    reader = Member(sandbox, newsroom, newsroom.reader_id)
    await owner.run("subscribe", {"topic": "ukraine"})
    await owner.run("subscribe", {"topic": "climate"})
    assert await owner.complete("subscribe", {"topic": "clim"}, "topic") == ["climate"]
    assert await owner.complete("unsubscribe", {"topic": ""}, "topic") == [
        "all", "climate", "ukraine"]  # fmt: skip

    listed = await owner.run("subscriptions")
    assert text(listed) == "This chat receives: Climate summit (climate), War in Ukraine (ukraine)."
    assert "Manage Channels" in text(await reader.run("subscriptions"))
    assert "Manage Channels" in text(await reader.run("unsubscribe", {"topic": "all"}))

    assert text(await owner.run("unsubscribe", {"topic": "climate"})) == (
        "Unsubscribed from Climate summit (climate)."
    )
    assert text(await owner.run("unsubscribe", {"topic": "all"})) == (
        "Unsubscribed from War in Ukraine (ukraine)."
    )
    assert text(await owner.run("unsubscribe", {"topic": "all"})) == (
        "This chat was not subscribed to that."
    )

    topics = text(await reader.run("topics"))
    assert topics.splitlines() == [
        "Topics:",
        "• ukraine: War in Ukraine",
        "• climate: Climate summit",
        "• elections: Elections",
    ]
    assert "Editors:" not in text(await reader.run("help"))
    assert "Editors:" in text(await Member(sandbox, newsroom, editor_id).run("help"))


async def test_post_through_the_form_with_progress_until_delivered(
    bot: DiscordAdapter,
    sandbox: DiscordSandbox,
    newsroom: Newsroom,
    editor_id: int,
    client: aioredis.Redis,
    discord_config: Config,
) -> None:
    owner = Member(sandbox, newsroom, newsroom.owner_id)
    editor = Member(sandbox, newsroom, editor_id)
    await owner.run("subscribe", {"topic": "ukraine"})
    await owner.run("subscribe", {"topic": "ukraine"}, channel=newsroom.news_id)

    form = await editor.open("post", {"topic": "ukraine", "breaking": True})
    assert form.response_type == 9
    assert form.response_data is not None and form.response_data["custom_id"] == "relay:post"
    posted = await editor.submit("relay:post", {
        "topic": "ukraine", "headline": "Dam breached @everyone", "body": "Water **everywhere**.",
        "link": "https://news.example/dam", "image": "https://img.example/dam.jpg",
    })  # fmt: skip
    reply = text(posted)
    assert reply.startswith("Published update ") and reply.endswith(
        "to War in Ukraine (ukraine): on its way to 2 subscribed chats."
    )
    update_id = reply.split()[2]

    pipeline = Pipeline(client, discord_config, adapters=[bot])
    await pipeline.drain()
    await bot.delivery.settle()
    [view] = posts(sandbox, newsroom.live_id)
    assert [v.crossposted for v in posts(sandbox, newsroom.news_id)] == [True]
    embed = view.embeds[0]
    assert embed["title"] == "Dam breached @\u200beveryone" and not view.pings_everyone
    assert embed["author"]["name"] == "🔴 BREAKING · War in Ukraine"
    assert embed["image"] == {"url": "https://img.example/dam.jpg"}
    assert embed["url"] == "https://news.example/dam"
    # Signed with the editor's display name, as a /post from Telegram is.
    stored = await Registry(client, Keys(discord_config.redis.key_prefix)).latest(update_id)
    assert stored is not None and stored.author != ""
    assert f"By {stored.author}" in embed["footer"]["text"]

    handle_result = await _progress_done(sandbox, posted)
    assert handle_result == "Delivery: delivered 2 / 2 · 0 failed (done)"
    assert update_id


async def _progress_done(sandbox: DiscordSandbox, result: InteractionResult) -> str:
    assert result.original is not None
    interaction = sandbox.world.interactions[result.original.interaction_id or 0]
    from relay_sandbox.discord import InteractionHandle

    handle = InteractionHandle(sandbox.world, interaction)
    done = await handle.wait(
        lambda r: bool(r.followups) and r.followups[0].content.endswith("(done)")
    )
    assert done.followups[0].ephemeral
    return done.followups[0].content


async def test_editor_commands_refuse_everyone_else(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, client: aioredis.Redis
) -> None:
    reader = Member(sandbox, newsroom, newsroom.reader_id)
    for name, options in (("post", {}), ("preview", {}), ("edit", {"id": "x"}),
                          ("delete", {"id": "x"})):  # fmt: skip
        r = await reader.run(name, options)
        assert r.response_type == 4
        assert text(r) == f"Only the newsroom's editors can use /{name}."
    assert await client.xlen("relay:updates") == 0


async def test_bad_form_input_gets_a_clear_answer_and_publishes_nothing(
    bot: DiscordAdapter,
    sandbox: DiscordSandbox,
    newsroom: Newsroom,
    editor_id: int,
    client: aioredis.Redis,
) -> None:
    editor = Member(sandbox, newsroom, editor_id)
    cases = [
        ({"topic": "ukraine", "headline": "H", "link": "not a link"},
         "Nothing was changed: link: must be an absolute http(s) URL, got 'not a link'."),
        ({"topic": "ukraine", "headline": "H", "image": "ftp://x/y.jpg"},
         "Nothing was changed: image.url: must be an absolute http(s) URL, got 'ftp://x/y.jpg'."),
        ({"topic": "ukrane", "headline": "H"},
         "Unknown topic 'ukrane'. Did you mean ukraine? See /topics."),
        ({"topic": "ukraine", "headline": "  "},
         "The update needs a headline after the topic."),
    ]  # fmt: skip
    for values, expected in cases:
        await editor.open("post")
        full = {"topic": "", "headline": "", "body": "", "link": "", "image": "", **values}
        assert text(await editor.submit("relay:post", full)) == expected
    assert await client.exists("relay:updates") == 0


async def test_preview_shows_the_rendered_embed_and_publishes_nothing(
    bot: DiscordAdapter,
    sandbox: DiscordSandbox,
    newsroom: Newsroom,
    editor_id: int,
    client: aioredis.Redis,
) -> None:
    editor = Member(sandbox, newsroom, editor_id)
    form = await editor.open("preview", {"topic": "climate"})
    assert form.response_data is not None and form.response_data["custom_id"] == "relay:preview"
    r = await editor.submit("relay:preview", {
        "topic": "climate", "headline": "Deal reached", "body": "After _two_ weeks.",
        "link": "", "image": "",
    })  # fmt: skip
    assert text(r) == "Preview (not published):"
    assert r.original is not None
    [embed] = r.original.embeds
    assert (embed["title"], embed["description"]) == ("Deal reached", "After *two* weeks.")
    assert embed["author"] == {"name": "Climate summit"}
    assert await client.exists("relay:updates") == 0
    assert r.followups == ()


async def test_edit_and_delete_by_id(
    bot: DiscordAdapter,
    sandbox: DiscordSandbox,
    newsroom: Newsroom,
    editor_id: int,
    client: aioredis.Redis,
    discord_config: Config,
    commands: Commands,
) -> None:
    owner = Member(sandbox, newsroom, newsroom.owner_id)
    editor = Member(sandbox, newsroom, editor_id)
    await owner.run("subscribe", {"topic": "ukraine"})
    await editor.open("post", {"topic": "ukraine"})
    posted = await editor.submit(
        "relay:post",
        {
            "topic": "ukraine",
            "headline": "Dam breached",
            "body": "First report.",
            "link": "",
            "image": "",
        },
    )
    update_id = text(posted).split()[2]
    pipeline = Pipeline(client, discord_config, adapters=[bot])
    await pipeline.drain()

    unknown = await editor.run("edit", {"id": "nope"})
    assert text(unknown) == "There is no update with id nope."
    form = await editor.open("edit", {"id": update_id})
    assert form.response_type == 9 and form.response_data is not None
    prefilled = _inputs(form.response_data["components"])
    assert prefilled["headline"] == "Dam breached" and prefilled["body"] == "First report."
    edited = await editor.submit(
        "relay:edit",
        {"headline": "Dam breached, 3 dead", "body": "Second report.", "link": "", "image": ""},
    )
    assert text(edited) == (
        f"Edited update {update_id} (revision 2); every copy is being corrected."
    )
    await pipeline.drain()
    [view] = posts(sandbox, newsroom.live_id)
    assert view.embeds[0]["title"] == "Dam breached, 3 dead"
    assert view.embeds[0]["description"] == "Second report." and view.edited_at is not None

    deleted = await editor.run("delete", {"id": update_id})
    assert text(deleted) == f"Deleted update {update_id}; every copy is being removed."
    await pipeline.drain()
    assert [v.deleted for v in posts(sandbox, newsroom.live_id)] == [True]
    assert text(await editor.run("delete", {"id": update_id})).startswith("Nothing was changed")


def _inputs(components: list[dict[str, Any]]) -> dict[str, str]:
    """custom_id → default value of every text input, wherever discord.py nested it."""
    found: dict[str, str] = {}
    for c in components:
        if c.get("type") == 4:
            found[str(c["custom_id"])] = str(c.get("value") or "")
        for key in ("components", "component"):
            inner = c.get(key)
            found.update(_inputs(inner if isinstance(inner, list) else
                                 [inner] if isinstance(inner, dict) else []))  # fmt: skip
    return found


async def test_slow_work_is_deferred_then_answered(
    discord_config: Config, commands: Commands, sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:

    adapter = make_adapter(discord_config, answer_within=0.0)
    await adapter.start(listening(commands))
    try:
        r = await Member(sandbox, newsroom, newsroom.reader_id).run("topics")
    finally:
        await adapter.aclose()
    assert r.response_type == 5
    assert text(r).startswith("Topics:")


async def test_a_forum_post_is_subscribed_on_its_own_and_receives_updates(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, discord_config: Config
) -> None:
    post = sandbox.control.create_channel(
        newsroom.guild_id, "Election night", type=PUBLIC_THREAD, parent_id=newsroom.forum_id
    )
    owner = Member(sandbox, newsroom, newsroom.owner_id)
    r = await owner.run("subscribe", {"topic": "elections"}, channel=post)
    assert text(r) == "Subscribed to Elections (elections)."
    topic = discord_config.topic("elections")
    assert topic is not None
    update = Update(id="e1", topic="elections", headline="Polls close")
    [mid] = await bot.send(Destination("discord", str(post)), update, topic)
    assert [str(v.id) for v in posts(sandbox, post)] == [mid]  # in the post, no new thread


async def test_two_workers_answer_each_interaction_once(
    bot: DiscordAdapter,
    discord_config: Config,
    commands: Commands,
    sandbox: DiscordSandbox,
    newsroom: Newsroom,
    editor_id: int,
) -> None:
    second = make_adapter(discord_config)
    await second.start(listening(commands))
    try:
        reader = Member(sandbox, newsroom, newsroom.reader_id)
        for _ in range(3):
            assert text(await reader.run("topics")).startswith("Topics:")
        editor = Member(sandbox, newsroom, editor_id)
        await editor.open("post", {"topic": "climate"})
        r = await editor.submit("relay:post", {"topic": "climate", "headline": "Deal",
                                               "body": "", "link": "", "image": ""})  # fmt: skip
        assert text(r).startswith("Published update ")
    finally:
        await second.aclose()
    callbacks = sandbox.control.requests("interaction_callback")
    assert len(callbacks) == 5 and {c.status for c in callbacks} == {200}  # no 40060


async def test_the_edit_form_changes_only_what_the_editor_changed(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, editor_id: int,
    commands: Commands,
) -> None:  # fmt: skip
    long_body = "Long report. " * 400  # 5,200 characters: more than the form's field shows
    photo = Image("https://example.org/p.jpg", "The dam at dawn", "Photo: Agency")
    await commands.ingest.publish(Update(
        "dam-1", "ukraine", headline="Dam breached", body=long_body,
        link="https://example.org/a", image=photo,
    ))  # fmt: skip
    editor = Member(sandbox, newsroom, editor_id)
    form = await editor.open("edit", {"id": "dam-1"})
    assert form.response_data is not None
    shown = _inputs(form.response_data["components"])
    assert "body" not in shown  # too long for the form: left out, and it says so
    assert shown["image"] == "https://example.org/p.jpg\nPhoto: Agency\nThe dam at dawn"

    refused = await editor.submit("relay:edit", {**shown, "link": "not a link"})
    assert text(refused) == (
        "Nothing was changed: link: must be an absolute http(s) URL, got 'not a link'."
    )
    # A new headline, an emptied link; the cut body and the photo field left as shown.
    await editor.open("edit", {"id": "dam-1"})  # a submitted form is closed
    edited = await editor.submit("relay:edit", {**shown, "headline": "Dam breached, 3 dead",
                                                "link": ""})  # fmt: skip
    assert text(edited).startswith("Edited update dam-1 (revision 2)")
    latest = await commands.ingest.latest("dam-1")
    assert latest is not None and latest.revision == 2
    assert (latest.headline, latest.link) == ("Dam breached, 3 dead", None)
    assert latest.body == long_body and latest.image == photo  # not cut, caption kept

    await editor.open("edit", {"id": "dam-1"})
    removed = await editor.submit("relay:edit", {**shown, "image": ""})
    assert text(removed).startswith("Edited update dam-1 (revision 3)")
    latest = await commands.ingest.latest("dam-1")
    assert latest is not None and latest.image is None and latest.body == long_body


async def test_a_deferred_preview_carries_the_photo_its_embed_shows(
    discord_config: Config, commands: Commands, sandbox: DiscordSandbox, newsroom: Newsroom,
    editor_id: int, client: aioredis.Redis,
) -> None:  # fmt: skip
    """/preview with a photo attached, answered late (deferred, then edited in): the edit
    uploads the photo as the reply's attachment, named as the embed names it; nothing is kept."""
    photo = b"\x89PNG\r\n\x1a\n" + bytes(300)
    media = MediaStore(client, Keys(), 3600, MediaConfig())
    adapter = make_adapter(discord_config, answer_within=0.0)
    await adapter.start(dataclasses.replace(listening(commands), media=media))
    try:
        editor = Member(sandbox, newsroom, editor_id)
        opened = sandbox.control.invoke(*editor._ids(None), "preview", {"topic": "ukraine"},
                                        attachments={"photo": ("dam.png", photo)})  # fmt: skip
        assert (await opened.response()).response_type == 9  # the form
        r = await editor.submit("relay:preview", {"headline": "Dam breached", "body": "",
                                                  "link": "", "caption": "The dam",
                                                  "credit": "Dora Diaz"})  # fmt: skip
    finally:
        await adapter.aclose()
    assert r.response_type == 5 and r.original is not None
    name = f"{media_id(photo)}.jpg"
    assert r.original.attachments == (name,)
    assert r.original.embeds[0]["image"]["url"] == f"attachment://{name}"
    assert await client.keys(Keys().media("*")) == []
