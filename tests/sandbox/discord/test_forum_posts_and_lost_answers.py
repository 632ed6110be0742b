"""Forum posts by a bot (POST /channels/{id}/threads) and answers lost after taking effect."""

from __future__ import annotations

import aiohttp
import discord
import pytest
from discord.http import Route
from relay_sandbox.discord import DiscordSandbox

from tests.sandbox.discord.conftest import Newsroom


async def test_a_bot_creates_a_forum_post_with_its_first_message(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    route = Route("POST", "/channels/{channel_id}/threads", channel_id=newsroom.forum_id)
    body = {"name": "Ukraine live", "message": {"embeds": [{"title": "War in Ukraine"}]}}
    data = await bot_client.http.request(route, json=body)
    thread_id = int(data["id"])
    assert data["parent_id"] == str(newsroom.forum_id) and data["name"] == "Ukraine live"
    assert data["message"]["channel_id"] == str(thread_id)
    [view] = sandbox.control.transcript(thread_id)
    assert view.embeds[0]["title"] == "War in Ukraine"
    assert sandbox.world.channels[thread_id].owner_id == newsroom.bot.bot_user_id

    in_text = Route("POST", "/channels/{channel_id}/threads", channel_id=newsroom.live_id)
    with pytest.raises(discord.HTTPException) as wrong_type:
        await bot_client.http.request(in_text, json=body)
    assert wrong_type.value.code == 50024
    with pytest.raises(discord.HTTPException) as no_message:
        await bot_client.http.request(route, json={"name": "x"})
    assert no_message.value.code == 50035


async def test_a_lost_answer_still_takes_effect(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    sandbox.control.lose_next_answer("create_message")
    channel = bot_client.get_partial_messageable(newsroom.live_id)
    with pytest.raises(aiohttp.ClientError):
        await channel.send("sent once", nonce="n1")
    again = await channel.send("sent once", nonce="n1")  # enforce_nonce: the same message
    [view] = sandbox.control.transcript(newsroom.live_id)
    assert view.id == again.id
    assert [r.status for r in sandbox.control.requests("create_message")] == [0, 200]
