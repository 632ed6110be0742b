"""A real discord.Client sends, edits, deletes, crossposts; failures are the real exceptions."""

from __future__ import annotations

import discord
import pytest
from relay_sandbox.discord import DiscordLimits, DiscordSandbox
from relay_sandbox.discord.wiring import running_client

from tests.sandbox.discord.conftest import Newsroom, make_client


async def test_ready_brings_the_guild_and_its_channels(
    bot_client: discord.Client, newsroom: Newsroom
) -> None:
    guild = bot_client.get_guild(newsroom.guild_id)
    assert guild is not None and guild.name == "Newsroom"
    live = bot_client.get_channel(newsroom.live_id)
    assert isinstance(live, discord.TextChannel) and live.name == "live-updates"
    news = bot_client.get_channel(newsroom.news_id)
    assert isinstance(news, discord.TextChannel) and news.is_news()
    assert isinstance(bot_client.get_channel(newsroom.forum_id), discord.ForumChannel)
    thread = guild.get_thread(newsroom.thread_id)
    assert thread is not None and thread.parent_id == newsroom.live_id
    assert guild.me is not None and bot_client.user is not None
    assert guild.me.id == newsroom.bot.bot_user_id == bot_client.user.id
    # discord.py computes permissions from the roles and overwrites we sent
    assert not live.permissions_for(guild.me).manage_channels
    assert live.permissions_for(guild.me).send_messages
    hidden = guild.get_channel(newsroom.hidden_id)
    assert hidden is not None and not hidden.permissions_for(guild.me).view_channel


async def test_send_edit_delete_with_embeds(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    live = bot_client.get_channel(newsroom.live_id)
    assert isinstance(live, discord.TextChannel)
    embed = discord.Embed(
        title="Kyiv", description="Air raid alert lifted.", url="https://x.test/1"
    )
    embed.add_field(name="Source", value="Officials").set_footer(text="Live desk")
    msg = await live.send("**Breaking**", embed=embed)
    assert msg.embeds[0].title == "Kyiv" and msg.embeds[0].fields[0].value == "Officials"
    edited = await msg.edit(content="**Breaking** (updated)", embed=embed.copy())
    assert edited.edited_at is not None and edited.content == "**Breaking** (updated)"
    second = await live.send("second")
    await second.delete()

    shown = sandbox.control.transcript(newsroom.live_id)
    assert [(v.content, v.deleted) for v in shown] == [
        ("**Breaking** (updated)", False),
        ("second", True),
    ]
    assert shown[0].edited_at is not None
    assert shown[0].embeds[0]["footer"] == {"text": "Live desk"}
    assert sandbox.control.transcript(newsroom.live_id, include_deleted=False)[-1].id == msg.id
    fetched = await live.fetch_message(msg.id)
    assert fetched.content == "**Breaking** (updated)"


async def test_mentions_follow_allowed_mentions(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    live = bot_client.get_channel(newsroom.live_id)
    assert isinstance(live, discord.TextChannel)
    text = f"@everyone <@{newsroom.reader_id}> read this"
    await live.send(text, allowed_mentions=discord.AllowedMentions.none())
    await live.send(text, allowed_mentions=discord.AllowedMentions(everyone=False, users=True))
    quiet, loud = sandbox.control.transcript(newsroom.live_id)
    assert (quiet.pinged_users, quiet.pings_everyone) == ((), False)
    # the bot lacks MENTION_EVERYONE, so @everyone would not ping even if allowed
    assert (loud.pinged_users, loud.pings_everyone) == ((newsroom.reader_id,), False)


async def test_crosspost_in_announcement_channel(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    news = bot_client.get_channel(newsroom.news_id)
    live = bot_client.get_channel(newsroom.live_id)
    assert isinstance(news, discord.TextChannel) and isinstance(live, discord.TextChannel)
    msg = await news.send("Ceasefire announced")
    await msg.publish()
    assert sandbox.control.transcript(newsroom.news_id)[0].crossposted
    with pytest.raises(discord.HTTPException) as again:
        await msg.publish()
    assert again.value.code == 40033
    plain = await live.send("not news")
    with pytest.raises(discord.HTTPException) as wrong_type:
        await plain.publish()
    assert wrong_type.value.code == 50024


async def test_thread_and_forum(bot_client: discord.Client, newsroom: Newsroom) -> None:
    guild = bot_client.get_guild(newsroom.guild_id)
    assert guild is not None
    thread = guild.get_thread(newsroom.thread_id)
    assert thread is not None
    sent = await thread.send("in the thread")
    assert sent.channel.id == newsroom.thread_id
    with pytest.raises(discord.HTTPException) as forum:
        await bot_client.http.send_message(
            newsroom.forum_id, params=discord.http.MultipartParameters({"content": "x"}, None, None)
        )
    assert forum.value.code == 50008


async def test_access_and_permission_errors(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    http = bot_client.http
    hidden = bot_client.get_partial_messageable(newsroom.hidden_id)
    with pytest.raises(discord.Forbidden) as missing_access:
        await hidden.send("x")
    assert missing_access.value.code == 50001 and missing_access.value.status == 403
    readonly = bot_client.get_partial_messageable(newsroom.readonly_id)
    with pytest.raises(discord.Forbidden) as missing_perms:
        await readonly.send("x")
    assert missing_perms.value.code == 50013
    noembed = bot_client.get_partial_messageable(newsroom.noembed_id)
    await noembed.send("plain text is fine")
    with pytest.raises(discord.Forbidden) as no_embed:
        await noembed.send(embed=discord.Embed(title="t"))
    assert no_embed.value.code == 50013
    with pytest.raises(discord.NotFound) as unknown_channel:
        await bot_client.get_partial_messageable(123456789012345678).send("x")
    assert unknown_channel.value.code == 10003
    live = bot_client.get_partial_messageable(newsroom.live_id)
    msg = await live.send("soon gone")
    await msg.delete()
    with pytest.raises(discord.NotFound) as unknown_message:
        await http.edit_message(newsroom.live_id, msg.id, params=_params({"content": "y"}))
    assert unknown_message.value.code == 10008
    sandbox.control.delete_channel(newsroom.live_id)
    with pytest.raises(discord.NotFound) as deleted:
        await live.send("x")
    assert deleted.value.code == 10003
    assert sandbox.control.transcript(newsroom.readonly_id) == []


def _params(payload: dict[str, object]) -> discord.http.MultipartParameters:
    return discord.http.MultipartParameters(payload, None, None)


async def test_form_body_errors(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    sandbox.limits = DiscordLimits.off()  # many sends to one channel; not a rate-limit test
    live = bot_client.get_partial_messageable(newsroom.live_id)
    with pytest.raises(discord.HTTPException) as too_long:
        await live.send("x" * 2001)
    assert (too_long.value.status, too_long.value.code) == (400, 50035)
    assert "content" in too_long.value.text and "2000 or fewer" in too_long.value.text
    await live.send("x" * 2000)

    big = [discord.Embed(description="d" * 4000) for _ in range(2)]  # 8000 > 6000 in total
    with pytest.raises(discord.HTTPException) as total:
        await live.send(embeds=big)
    assert total.value.code == 50035 and "6000" in total.value.text
    with pytest.raises(discord.HTTPException) as title:
        await bot_client.http.send_message(
            newsroom.live_id, params=_params({"embeds": [{"title": "t" * 257}]})
        )
    assert title.value.code == 50035 and "embeds.0.title" in title.value.text
    with pytest.raises(discord.HTTPException) as eleven:
        await bot_client.http.send_message(
            newsroom.live_id, params=_params({"embeds": [{"title": "t"}] * 11})
        )
    assert eleven.value.code == 50035 and "embeds" in eleven.value.text
    with pytest.raises(discord.HTTPException) as empty:
        await bot_client.http.send_message(newsroom.live_id, params=_params({"content": "  "}))
    assert (empty.value.code, empty.value.text) == (50006, "Cannot send an empty message")


async def test_nonce_with_enforce_nonce_returns_the_original(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    body = {"content": "once", "nonce": "upd-42-r1", "enforce_nonce": True}
    first = await bot_client.http.send_message(newsroom.live_id, params=_params(body))
    second = await bot_client.http.send_message(newsroom.live_id, params=_params(body))
    assert first["id"] == second["id"]
    assert [v.content for v in sandbox.control.transcript(newsroom.live_id)] == ["once"]
    # without enforce_nonce the same nonce makes a second message, like Discord
    await bot_client.http.send_message(
        newsroom.live_id, params=_params({**body, "enforce_nonce": False})
    )
    assert len(sandbox.control.transcript(newsroom.live_id)) == 2
    with pytest.raises(discord.HTTPException) as long_nonce:
        await bot_client.http.send_message(
            newsroom.live_id, params=_params({"content": "x", "nonce": "n" * 26})
        )
    assert long_nonce.value.code == 50035


async def test_bad_token_is_login_failure_and_gateway_4004(
    sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    refused = make_client()
    try:
        with pytest.raises(discord.LoginFailure):
            await refused.login("not-a-token")
    finally:
        await refused.close()
    client = make_client()
    try:
        await client.login(newsroom.bot.token)
        client.http.token = "revoked-token"
        with pytest.raises(discord.ConnectionClosed) as closed:
            await client.connect(reconnect=False)
        assert closed.value.code == 4004
    finally:
        await client.close()


async def test_message_content_intent_must_be_enabled(
    sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with running_client(client, newsroom.bot.token):
            pass
    sandbox.control.set_message_content(newsroom.bot.application_id, True)
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    async with running_client(client, newsroom.bot.token) as ready:
        assert ready.get_channel(newsroom.live_id) is not None
