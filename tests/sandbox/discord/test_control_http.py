"""The HTTP control API end to end, and the wire format of REST answers."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import discord
from aiohttp import web
from discord import app_commands
from relay_sandbox.discord import DiscordSandbox
from relay_sandbox.discord.wiring import pointed_at, running_client

from tests.sandbox.discord.conftest import make_client


async def test_world_built_over_http_serves_a_real_client(sandbox: DiscordSandbox) -> None:
    base = sandbox.base_url + "/_sandbox/discord"
    async with aiohttp.ClientSession() as http:

        async def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
            async with http.request(method, base + path, json=body) as r:
                assert r.status == 200, await r.text()
                return await r.json()

        bot = await call("POST", "/applications", {"name": "relay"})
        guild = (await call("POST", "/guilds", {"name": "Desk"}))["id"]
        channel = (await call("POST", f"/guilds/{guild}/channels", {"name": "live", "type": 0}))[
            "id"
        ]
        await call("PUT", f"/guilds/{guild}/bots/{bot['application_id']}")
        reader = (await call("POST", f"/guilds/{guild}/members", {"name": "reader"}))["id"]

        client = make_client()
        tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)

        @tree.command(name="topics", description="List topics")
        async def topics(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("ukraine, climate")

        async with running_client(client, bot["token"]) as c:
            await tree.sync()
            live = c.get_channel(int(channel))
            assert isinstance(live, discord.TextChannel)
            await live.send("over http")
            handle = await call(
                "POST",
                "/interactions",
                {
                    "kind": "command",
                    "app_id": bot["application_id"],
                    "guild_id": guild,
                    "channel_id": channel,
                    "user_id": reader,
                    "name": "topics",
                },
            )
            result = await call("GET", f"/interactions/{handle['id']}?wait=1&timeout=5")
            assert result["response_type"] == 4
            assert result["original"]["content"] == "ukraine, climate"

            await call(
                "POST",
                "/faults/fail-next",
                {
                    "endpoint": "create_message",
                    "status": 403,
                    "code": 50001,
                    "message": "Missing Access",
                },
            )
            try:
                await live.send("blocked")
            except discord.Forbidden as exc:
                assert exc.code == 50001
            else:
                raise AssertionError("the scripted failure did not happen")

        transcript = await call("GET", f"/channels/{channel}/transcript")
        assert [m["content"] for m in transcript] == ["over http", "ukraine, climate"]
        requests = await call("GET", "/requests?endpoint=create_message")
        assert [r["status"] for r in requests] == [200, 403]
        async with http.get(base + "/channels/1/transcript") as r:
            assert r.status == 200 and await r.json() == []
        async with http.delete(base + "/channels/1") as r:
            assert r.status == 404


async def test_wire_format_of_errors_and_headers(sandbox: DiscordSandbox) -> None:
    control = sandbox.control
    bot = control.create_application()
    guild = control.create_guild()
    channel = control.create_channel(guild, "live")
    control.invite_bot(bot.application_id, guild)
    url = f"{sandbox.api_base}/channels/{channel}/messages"
    auth = {"Authorization": f"Bot {bot.token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"content": "x"}) as r:
            assert r.status == 401
            assert await r.json() == {"message": "401: Unauthorized", "code": 0}
        async with http.post(
            url, json={"content": "x" * 2001, "embeds": [{"title": "t" * 300}]}, headers=auth
        ) as r:
            assert r.status == 400 and r.headers["Content-Type"] == "application/json"
            assert await r.json() == {
                "code": 50035,
                "message": "Invalid Form Body",
                "errors": {
                    "content": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 2000 or fewer in length.",
                            }
                        ]
                    },
                    "embeds": {
                        "0": {
                            "title": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_MAX_LENGTH",
                                        "message": "Must be 256 or fewer in length.",
                                    }
                                ]
                            }
                        }
                    },
                },
            }
        form = aiohttp.FormData()
        form.add_field(
            "payload_json", '{"content": "with a file"}', content_type="application/json"
        )
        form.add_field("files[0]", b"png-bytes", filename="photo.png", content_type="image/png")
        async with http.post(url, data=form, headers=auth) as r:
            assert r.status == 200
            body = await r.json()
            assert body["attachments"][0]["filename"] == "photo.png"
            assert body["attachments"][0]["size"] == len(b"png-bytes")
            for header in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
                assert f"X-RateLimit-{header}" in r.headers
        async with http.get(f"{sandbox.api_base}/gateway") as r:
            assert await r.json() == {"url": sandbox.gateway_url}


async def test_mounted_on_another_aiohttp_app() -> None:
    sandbox = DiscordSandbox()
    app = web.Application()
    sandbox.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sandbox.set_base_url(f"http://127.0.0.1:{port}")
    try:
        bot = sandbox.control.create_application()
        guild = sandbox.control.create_guild()
        channel = sandbox.control.create_channel(guild, "live")
        sandbox.control.invite_bot(bot.application_id, guild)
        with pointed_at(sandbox.api_base, sandbox.gateway_url):
            async with running_client(make_client(), bot.token) as client:
                assert client.get_channel(channel) is not None
    finally:
        await runner.cleanup()


async def test_events_as_server_sent_events(sandbox: DiscordSandbox) -> None:
    control = sandbox.control
    bot = control.create_application()
    guild = control.create_guild()
    channel = control.create_channel(guild, "live")
    control.invite_bot(bot.application_id, guild)
    events_url = sandbox.base_url + "/_sandbox/discord/events"
    async with aiohttp.ClientSession() as http, http.get(events_url) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        assert await stream.content.readline() == b": connected\n"
        await stream.content.readline()
        url = f"{sandbox.api_base}/channels/{channel}/messages"
        auth = {"Authorization": f"Bot {bot.token}"}
        async with http.post(url, json={"content": "streamed"}, headers=auth) as r:
            assert r.status == 200
        assert await stream.content.readline() == b"event: created\n"
        data = json.loads((await stream.content.readline()).removeprefix(b"data: "))
        assert data["kind"] == "created" and data["message"]["content"] == "streamed"
        assert data["channel_id"] == str(channel)
