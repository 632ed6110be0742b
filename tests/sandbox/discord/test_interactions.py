"""Slash commands through a real CommandTree: sync, invoke, respond, follow up, autocomplete."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord import app_commands
from relay_sandbox.discord import DiscordSandbox
from relay_sandbox.discord import permissions as P

from tests.sandbox.discord.conftest import Newsroom

Tree = app_commands.CommandTree[discord.Client]


async def test_sync_global_and_guild_commands(
    tree_client: tuple[discord.Client, Tree], newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    _, tree = tree_client

    @tree.command(name="topics", description="List topics")
    async def topics(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ukraine, climate")

    @tree.command(
        name="post", description="Post an update", guild=discord.Object(newsroom.guild_id)
    )
    @app_commands.default_permissions(manage_channels=True)
    async def post(interaction: discord.Interaction, topic: str, text: str) -> None:
        await interaction.response.send_message("posted")

    synced = await tree.sync()
    assert [c.name for c in synced] == ["topics"]
    guild_synced = await tree.sync(guild=discord.Object(newsroom.guild_id))
    assert [c.name for c in guild_synced] == ["post"]
    assert guild_synced[0].guild_id == newsroom.guild_id
    assert guild_synced[0].default_member_permissions == discord.Permissions(manage_channels=True)
    assert [o.name for o in guild_synced[0].options] == ["topic", "text"]
    fetched = await tree.fetch_commands()
    assert [(c.id, c.name) for c in fetched] == [(synced[0].id, "topics")]
    again = await tree.sync()  # same name → same id, as Discord keeps it
    assert again[0].id == synced[0].id


async def test_slash_command_responds_follows_up_and_edits(
    tree_client: tuple[discord.Client, Tree], newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    _, tree = tree_client
    seen: dict[str, object] = {}

    @tree.command(name="subscribe", description="Subscribe this channel to a topic")
    async def subscribe(interaction: discord.Interaction, topic: str) -> None:
        seen["topic"] = topic
        seen["manage"] = interaction.permissions.manage_channels
        seen["app_send"] = interaction.app_permissions.send_messages
        seen["channel"] = interaction.channel_id
        await interaction.response.send_message(f"Subscribed to {topic}", ephemeral=True)
        await interaction.followup.send("First update coming soon")
        await interaction.edit_original_response(content=f"Subscribed to {topic} ✓")

    await tree.sync()
    control = sandbox.control
    editor = control.add_member(newsroom.guild_id, roles=[newsroom.editor_role_id], name="editor")
    handle = control.invoke(
        newsroom.bot.application_id,
        newsroom.guild_id,
        newsroom.live_id,
        editor,
        "subscribe",
        {"topic": "ukraine"},
    )
    first = await handle.response()
    assert first.response_type == 4
    assert first.original is not None and first.original.ephemeral
    done = await handle.wait(
        lambda r: bool(r.followups) and r.original is not None and r.original.edited_at is not None
    )
    assert done.original is not None and done.original.content == "Subscribed to ukraine ✓"
    assert [f.content for f in done.followups] == ["First update coming soon"]
    assert not done.followups[0].ephemeral
    assert seen == {
        "topic": "ukraine",
        "manage": True,
        "app_send": True,
        "channel": newsroom.live_id,
    }
    # the reader has no MANAGE_CHANNELS: member.permissions say so
    reader_perms = sandbox.world.permissions_in(
        sandbox.world.channels[newsroom.live_id], newsroom.reader_id
    )
    assert not reader_perms & P.MANAGE_CHANNELS


async def test_deferred_response_then_edit_original(
    tree_client: tuple[discord.Client, Tree], newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    _, tree = tree_client

    @tree.command(name="status", description="Relay status")
    async def status(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="All green")

    await tree.sync()
    handle = sandbox.control.invoke(
        newsroom.bot.application_id,
        newsroom.guild_id,
        newsroom.live_id,
        newsroom.reader_id,
        "status",
    )
    result = await handle.wait(
        lambda r: r.original is not None and r.original.content == "All green"
    )
    assert result.response_type == 5


async def test_autocomplete_returns_choices(
    tree_client: tuple[discord.Client, Tree], newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    _, tree = tree_client

    async def topic_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = ["ukraine", "uk-politics", "climate"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    @tree.command(name="unsubscribe", description="Unsubscribe")
    @app_commands.autocomplete(topic=topic_choices)
    async def unsubscribe(interaction: discord.Interaction, topic: str) -> None:
        await interaction.response.send_message("done")

    await tree.sync()
    handle = sandbox.control.autocomplete(
        newsroom.bot.application_id,
        newsroom.guild_id,
        newsroom.live_id,
        newsroom.reader_id,
        "unsubscribe",
        {"topic": "uk"},
        focused="topic",
    )
    result = await handle.response()
    assert result.response_type == 8
    assert [c["value"] for c in result.choices] == ["ukraine", "uk-politics"]
    assert sandbox.control.transcript(newsroom.live_id) == []


async def test_late_and_double_callbacks_fail_like_discord(
    tree_client: tuple[discord.Client, Tree], newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    _, tree = tree_client
    errors: list[BaseException] = []
    gate = asyncio.Event()

    @tree.command(name="slow", description="Answers too late")
    async def slow(interaction: discord.Interaction) -> None:
        await gate.wait()
        try:
            await interaction.response.send_message("late")
        except discord.HTTPException as exc:
            errors.append(exc)

    @tree.command(name="twice", description="Answers twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("one")
        try:
            # bypass discord.py's own guard to reach the server a second time
            adapter = discord.webhook.async_.async_context.get()
            await adapter.create_interaction_response(
                interaction.id,
                interaction.token,
                session=interaction._session,
                params=discord.webhook.async_.interaction_response_params(4, {"content": "two"}),
            )
        except discord.HTTPException as exc:
            errors.append(exc)

    await tree.sync()
    control = sandbox.control
    late = control.invoke(
        newsroom.bot.application_id, newsroom.guild_id, newsroom.live_id, newsroom.reader_id, "slow"
    )
    control.age_interaction(late, 3.5)
    gate.set()
    double = control.invoke(
        newsroom.bot.application_id,
        newsroom.guild_id,
        newsroom.live_id,
        newsroom.reader_id,
        "twice",
    )
    await double.response()
    for _ in range(100):
        if len(errors) == 2:
            break
        await asyncio.sleep(0.02)
    by_code = {getattr(e, "code", None): e for e in errors}
    assert isinstance(by_code[10062], discord.NotFound)
    assert type(by_code[40060]) is discord.HTTPException
    assert not late.result().acknowledged


async def test_modal_submit_is_dispatched(
    tree_client: tuple[discord.Client, Tree], newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    client, _ = tree_client
    got: list[discord.Interaction] = []

    @client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.modal_submit:
            got.append(interaction)
            await interaction.response.send_message("thanks", ephemeral=True)

    handle = sandbox.control.submit_modal(
        newsroom.bot.application_id,
        newsroom.guild_id,
        newsroom.live_id,
        newsroom.reader_id,
        "post-form",
        {"headline": "Dam breached"},
    )
    result = await handle.response()
    assert result.original is not None and result.original.content == "thanks"
    assert got[0].data is not None and got[0].data["custom_id"] == "post-form"


async def test_incoming_webhook_and_followup_before_ack(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    wid, token = sandbox.control.create_webhook(newsroom.live_id, "Wire")
    webhook = discord.Webhook.partial(wid, token, client=bot_client)
    sent = await webhook.send("from the wire", username="Wire desk", wait=True)
    assert sent.author.name == "Wire desk"
    view = sandbox.control.transcript(newsroom.live_id)[-1]
    assert (view.content, view.webhook_id) == ("from the wire", wid)
    await webhook.edit_message(sent.id, content="from the wire (fixed)")
    assert sandbox.control.transcript(newsroom.live_id)[-1].content == "from the wire (fixed)"
    bad = discord.Webhook.partial(wid, "wrong-token", client=bot_client)
    with pytest.raises(discord.NotFound) as unknown:
        await bad.send("x")
    assert unknown.value.code == 10015

    # an interaction nobody has answered yet: its token does not work for follow-ups
    app_id = newsroom.bot.application_id
    await bot_client.http.bulk_upsert_global_commands(
        app_id, [{"name": "topics", "description": "List topics", "type": 1}]
    )
    handle = sandbox.control.invoke(
        app_id, newsroom.guild_id, newsroom.live_id, newsroom.reader_id, "topics"
    )
    followup = discord.Webhook.partial(app_id, handle.token, client=bot_client)
    with pytest.raises(discord.NotFound) as early:
        await followup.send("too early", wait=True)
    assert early.value.code == 10015


async def test_subcommand_of_a_group(
    tree_client: tuple[discord.Client, Tree], newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    _, tree = tree_client
    feed = app_commands.Group(name="feed", description="Manage this channel's feed")
    calls: list[tuple[str, int]] = []

    @feed.command(name="add", description="Add a topic")
    async def add(interaction: discord.Interaction, topic: str, priority: int) -> None:
        calls.append((topic, priority))
        await interaction.response.send_message(f"added {topic}")

    tree.add_command(feed)
    await tree.sync()
    handle = sandbox.control.invoke(
        newsroom.bot.application_id,
        newsroom.guild_id,
        newsroom.live_id,
        newsroom.reader_id,
        "feed",
        {"topic": "climate", "priority": 2},
        subcommand="add",
    )
    result = await handle.response()
    assert result.original is not None and result.original.content == "added climate"
    assert calls == [("climate", 2)]


async def test_webhook_into_a_forum_needs_a_thread(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    wid, token = sandbox.control.create_webhook(newsroom.forum_id, "Forum feed")
    hook = discord.Webhook.partial(wid, token, client=bot_client)
    with pytest.raises(discord.HTTPException) as no_thread:
        await hook.send("x", wait=True)
    assert no_thread.value.code == 220001
    sent = await hook.send("first post", thread_name="Ukraine live", wait=True)
    post = bot_client.get_channel(sent.channel.id)
    for _ in range(100):
        if post is not None:
            break
        await asyncio.sleep(0.01)
        post = bot_client.get_channel(sent.channel.id)
    assert isinstance(post, discord.Thread) and post.parent_id == newsroom.forum_id
    assert post.name == "Ukraine live"
    again = await hook.send("second post", thread=discord.Object(post.id), wait=True)
    assert [v.content for v in sandbox.control.transcript(post.id)] == ["first post", "second post"]
    assert again.channel.id == post.id


async def test_modal_round_trip_through_discord_ui(
    tree_client: tuple[discord.Client, Tree], newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    _, tree = tree_client
    submitted: list[str] = []

    class PostForm(discord.ui.Modal, title="New update"):
        headline: discord.ui.TextInput[PostForm] = discord.ui.TextInput(label="Headline")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            submitted.append(self.headline.value)
            await interaction.response.send_message("queued", ephemeral=True)

    @tree.command(name="compose", description="Write an update")
    async def compose(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(PostForm())

    await tree.sync()
    control = sandbox.control
    ids = (newsroom.bot.application_id, newsroom.guild_id, newsroom.live_id, newsroom.reader_id)
    opened = await control.invoke(*ids, "compose").response()
    assert opened.response_type == 9
    modal = opened.response_data or {}
    assert modal["title"] == "New update"
    text_input = _find_text_input(modal["components"])
    submit = control.submit_modal(*ids, modal["custom_id"], {text_input: "Dam breached"})
    answer = await submit.response()
    assert answer.original is not None and answer.original.content == "queued"
    assert submitted == ["Dam breached"]


def _find_text_input(components: list[dict[str, object]]) -> str:
    """The custom_id of the first text input (type 4), wherever discord.py nested it."""
    for c in components:
        if c.get("type") == 4:
            return str(c["custom_id"])
        for key in ("components", "component"):
            inner = c.get(key)
            found = _find_text_input(
                inner if isinstance(inner, list) else [inner] if isinstance(inner, dict) else []
            )
            if found:
                return found
    return ""


async def test_command_localizations_are_checked_as_discord_does(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    app_id = newsroom.bot.application_id
    good = {"name": "topics", "description": "List topics", "type": 1,
            "description_localizations": {"uk": "Список тем"},
            "options": [{"name": "topic", "description": "A topic", "type": 3,
                         "description_localizations": {"uk": "Тема"}}]}  # fmt: skip
    await bot_client.http.bulk_upsert_global_commands(app_id, [good])
    [stored] = [c.payload for c in sandbox.world.commands.values() if c.name == "topics"]
    assert stored["description_localizations"] == {"uk": "Список тем"}
    for bad in ({"description_localizations": {"ua": "Список тем"}},  # no such locale
                {"description_localizations": {"uk": "т" * 101}},
                {"name_localizations": {"uk": ""}}):  # fmt: skip
        with pytest.raises(discord.HTTPException) as refused:
            await bot_client.http.bulk_upsert_global_commands(app_id, [{**good, **bad}])
        assert refused.value.code == 50035, bad
    option = {**good, "options": [{**good["options"][0], "description_localizations": {"xx": "?"}}]}
    with pytest.raises(discord.HTTPException) as nested:
        await bot_client.http.bulk_upsert_global_commands(app_id, [option])
    assert "options" in str(nested.value.text)
