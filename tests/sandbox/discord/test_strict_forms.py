"""The sandbox refuses what Discord refuses: embed URLs that are no URI, oversized forms; and
shows a role mention of another guild as Discord does, pinging no one."""

from __future__ import annotations

import discord
import pytest
from relay_sandbox.discord import DiscordSandbox
from relay_sandbox.discord.modals import check_modal
from relay_sandbox.discord.validate import url_error

from tests.sandbox.discord.conftest import Newsroom

NOT_WELL_FORMED = "Not a well formed URL."


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("url", "https://пример.рф/wiki/Киев"),
        ("url", "https://example.org/wiki/Киев"),
        ("url", 'https://example.org/"quoted"'),
        ("url", "https://example.org/<a>|b"),
        ("url", "https://example.org/a b"),
        ("url", "https://example.org/a#b#c"),
        ("url", "http://localhost/a"),  # Discord wants a dotted host name
        ("image", "https://example.org/a|b.jpg"),
        ("thumbnail", "https://пример.рф/x.jpg"),
    ],
)
async def test_an_embed_url_that_is_no_uri_gets_50035_naming_the_field(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox, field: str, url: str
) -> None:
    live = bot_client.get_channel(newsroom.live_id)
    assert isinstance(live, discord.TextChannel)
    embed = discord.Embed(title="Kyiv")
    if field == "url":
        embed.url = url
    elif field == "image":
        embed.set_image(url=url)
    else:
        embed.set_thumbnail(url=url)
    with pytest.raises(discord.HTTPException) as refused:
        await live.send(embed=embed)
    assert (refused.value.status, refused.value.code) == (400, 50035)
    path = "embeds.0.url" if field == "url" else f"embeds.0.{field}.url"
    assert f"In {path}: {NOT_WELL_FORMED}" in refused.value.text
    [record] = sandbox.control.requests("create_message")
    assert record.status == 400 and sandbox.control.transcript(newsroom.live_id) == []


async def test_a_percent_encoded_idna_url_is_taken(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    live = bot_client.get_channel(newsroom.live_id)
    assert isinstance(live, discord.TextChannel)
    url = "https://xn--e1afmkfd.xn--p1ai/wiki/%D0%9A%D0%B8%D0%B5%D0%B2"
    await live.send(embed=discord.Embed(title="Kyiv", url=url).set_image(url=url))
    [view] = sandbox.control.transcript(newsroom.live_id)
    assert view.embeds[0]["url"] == url and view.embeds[0]["image"] == {"url": url}


def test_the_error_tree_and_scheme_messages() -> None:
    assert url_error("ftp://example.org/x") == (
        "URL_TYPE_INVALID_SCHEME",
        "Scheme \"ftp\" is not supported. Scheme must be one of ('http', 'https').",
    )
    assert url_error("") is not None and url_error("example.org/x") is not None
    assert url_error("attachment://photo.jpg") is not None  # a link cannot name an upload
    assert url_error("attachment://photo.jpg", media=True) is None
    assert url_error("https://[::1]/x") is None and url_error("https://ex.org/a%zz") is not None


def _modal(*components: dict[str, object], title: str = "Edit") -> dict[str, object]:
    return {"custom_id": "relay:edit", "title": title, "components": list(components)}


def _row(custom_id: str, value: str = "", **kw: object) -> dict[str, object]:
    text = {"type": 4, "custom_id": custom_id, "style": 2, "label": custom_id, "value": value}
    return {"type": 1, "components": [{**text, **kw}]}


def test_a_form_holds_five_components_of_4000_characters() -> None:
    assert not check_modal(_modal(*(_row(f"f{i}") for i in range(5)))).tree
    six = check_modal(_modal(*(_row(f"f{i}") for i in range(6)))).tree
    assert six["data"]["components"]["_errors"][0]["message"] == (
        "Must be between 1 and 5 in length."
    )
    long = check_modal(_modal(_row("body", "x" * 4001))).tree
    assert "value" in long["data"]["components"]["0"]["components"]["0"]
    over = check_modal(_modal(_row("body", "x" * 11, max_length=10))).tree
    assert "value" in over["data"]["components"]["0"]["components"]["0"]
    assert check_modal(_modal(_row("b"), title="x" * 46)).tree["data"]["title"]
    label = {"type": 18, "label": "L" * 46, "component": _row("a")["components"][0]}  # type: ignore[index]
    assert check_modal(_modal(label)).tree["data"]["components"]["0"]["label"]
    note = {"type": 10, "content": "The body is too long for this form."}
    assert not check_modal(_modal(note, _row("a"))).tree


async def test_a_role_of_another_guild_shows_as_deleted_role_and_pings_no_one(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    c = sandbox.control
    here = c.create_role(newsroom.guild_id, "breaking-news", mentionable=True)
    there = c.create_role(c.create_guild("Other newsroom"), "alerts", mentionable=True)
    live = bot_client.get_channel(newsroom.live_id)
    assert isinstance(live, discord.TextChannel)
    allowed = discord.AllowedMentions(roles=[discord.Object(here), discord.Object(there)])
    await live.send(f"<@&{here}> <@&{there}>", allowed_mentions=allowed)
    [view] = c.transcript(newsroom.live_id)
    assert view.pinged_roles == (here,)
    assert view.shown == "@breaking-news @deleted-role"


async def test_a_scripted_failure_can_let_requests_through_first(
    bot_client: discord.Client, newsroom: Newsroom, sandbox: DiscordSandbox
) -> None:
    live = bot_client.get_channel(newsroom.live_id)
    assert isinstance(live, discord.TextChannel)
    sandbox.control.fail_next("create_message", status=403, code=50013, after=1)
    await live.send("part 1")
    with pytest.raises(discord.Forbidden):
        await live.send("part 2")
    await live.send("part 2 again")
    statuses = [r.status for r in sandbox.control.requests("create_message")]
    assert statuses == [200, 403, 200]
