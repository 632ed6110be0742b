"""Bad chat commands on both platforms, through the real clients (python-telegram-bot,
discord.py) against the sandboxes: each gets a clear answer and changes nothing.

After every case the relay's stored state (subscriptions, updates, everything under a hash
tag) is what it was, and the bot still answers a good command.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from relay_sandbox.discord import DiscordSandbox
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.discord import DiscordAdapter
from relay.commands import Commands
from relay.model import Destination
from tests.adapters.discord.conftest import (
    bot,
    commands,
    discord_config,
    editor_id,
    newsroom,
    sandbox,
)
from tests.adapters.discord.test_commands import Member, text
from tests.adapters.telegram.conftest import (
    account,
    desk,
    editor,
    reader,
    tg,
    tg_config,
)
from tests.adapters.telegram.desk import Desk
from tests.sandbox.discord.conftest import Newsroom

from .snapshot import snapshot

# The fixtures of both platforms' command suites, re-used here.
__all__ = ["account", "bot", "commands", "desk", "discord_config", "editor", "editor_id",
           "newsroom", "reader", "sandbox", "tg", "tg_config"]  # fmt: skip

LONG = "x" * 3000
MANY_UNKNOWN = " ".join(f"nope{i}" for i in range(400))
NOT_ADMIN = "You are not an administrator of @newsch, so you can't manage what it receives."
USAGE_EDIT = "Usage: /edit <update-id> …"

# (what it attacks, who types it, the text, the answer)
TELEGRAM: list[tuple[str, str, str, str]] = [
    ("a topic of 3,000 characters", "reader", f"/subscribe {LONG}",
     f"Unknown topic '{'x' * 40}'. See /topics."),
    ("400 unknown topics", "reader", f"/subscribe {MANY_UNKNOWN}",
     "Unknown topic 'nope0'. See /topics."),
    ("unsubscribe a topic 500 times", "reader", "/unsubscribe " + "climate " * 500,
     "This chat was not subscribed to that."),
    ("/PREVIEW from a reader", "reader", "/PREVIEW ukraine Headline",
     "Only the newsroom's editors can use /preview."),
    ("/Post from a reader", "reader", "/Post ukraine Headline",
     "Only the newsroom's editors can use /post."),
    ("another channel's subscriptions", "reader", "/subscriptions @newsch", NOT_ADMIN),
    ("another channel's subscriptions by id", "reader", "/subscriptions {channel}", NOT_ADMIN),
    ("unsubscribe another channel", "reader", "/unsubscribe all @newsch", NOT_ADMIN),
    ("a remote chat id with a leading zero", "reader", "/subscribe ukraine -000001",
     "Unknown topic '-000001'. See /topics."),
    ("a remote chat id of 21 digits", "reader", "/subscribe ukraine -" + "1" * 21,
     f"Unknown topic '-{'1' * 21}'. See /topics."),
    ("subscribe a group as a member", "member", "/subscribe ukraine",
     "Sorry, only this chat's administrators can change what it receives."),
    ("a headline of a zero-width space", "editor", "/post ukraine \u200b",
     "Nothing was changed: headline: must contain visible text."),
    ("a headline of word joiners", "editor", "/post ukraine \u2060\u2060",
     "Nothing was changed: headline: must contain visible text."),
    ("an ANSI escape in a headline", "editor", "/post ukraine Talks \x1b[31mresume",
     "Nothing was changed: headline: must not contain control characters, found U+001B."),
    ("a bell in a body", "editor", "/post ukraine Talks\nDelegations\x07 met",
     "Nothing was changed: body: must not contain control characters, found U+0007."),
    ("a javascript: link line", "editor", "/post ukraine Talks\nBody\nLink: javascript:alert(1)",
     "Nothing was changed: link: must be an absolute http(s) URL, got 'javascript:alert(1)'."),
    ("/edit of the id '.'", "editor", "/edit . New headline", USAGE_EDIT),
    ("/edit of the id '..'", "editor", "/edit .. New headline", USAGE_EDIT),
    ("/delete of the id '..'", "editor", "/delete ..", "Usage: /delete <update-id> …"),
    ("/edit of an invisible headline", "editor", "/edit u-1 \u200b",
     "Nothing was changed: headline: must contain visible text."),
]  # fmt: skip


async def _relay_state(client: aioredis.Redis) -> dict[Any, Any]:
    """What commands may change: every hash-tagged key and the destination sets (not leases)."""
    return await snapshot(client, "relay:{*") | await snapshot(client, "relay:destinations")


@pytest.mark.parametrize(
    ("who", "message", "answer"), [c[1:] for c in TELEGRAM], ids=[c[0] for c in TELEGRAM]
)
async def test_telegram_bad_command_gets_a_clear_answer_and_changes_nothing(
    desk: Desk,
    tg: TelegramSandbox,
    account: Bot,
    reader: User,
    editor: User,
    client: aioredis.Redis,
    who: str,
    message: str,
    answer: str,
) -> None:
    owner = tg.control.create_user("Olga")
    member = tg.control.create_user("Mo")
    group = tg.control.create_chat("supergroup", "Readers", creator=owner.id, members=(member.id,))
    channel = tg.control.create_chat("channel", "News", username="newsch", creator=owner.id)
    for chat in (group, channel):
        tg.control.add_bot(chat.id, account)
    await desk.pipeline.subs.subscribe(Destination("telegram", str(channel.id)), ["ukraine"])
    before = await _relay_state(client)
    user, where = {"reader": (reader, {}), "editor": (editor, {}),
                   "member": (member, {"chat": group.id})}[who]  # fmt: skip
    assert await desk.ask(user, message.format(channel=channel.id), **where) == answer
    assert await _relay_state(client) == before
    assert (await desk.ask(user, "/topics", **where)).startswith("Topics:")


async def test_telegram_a_topic_named_500_times_gets_one_short_answer(
    desk: Desk, reader: User
) -> None:
    """The answer used to name it 500 times: over 4,096 characters, refused, so none came."""
    assert await desk.ask(reader, "/subscribe " + "climate " * 500) == (
        "Subscribed to Climate summit (climate)."
    )
    assert await desk.ask(reader, "/subscribe " + "climate " * 500) == (
        "Already subscribed to Climate summit (climate)."
    )
    assert await desk.topics(reader.id) == ["climate"]


# (what it attacks, who runs it, the command, its options or form, the answer)
DISCORD: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("a topic of 3,000 characters", "owner", "subscribe", {"topic": LONG},
     f"Unknown topic '{'x' * 40}'. See /topics."),
    ("400 unknown topics", "owner", "subscribe", {"topic": MANY_UNKNOWN},
     "Unknown topic 'nope0'. See /topics."),
    ("an escape in a topic", "owner", "subscribe", {"topic": "\x1b[2Jukraine"},
     "Unknown topic '\x1b[2Jukraine'. Did you mean ukraine? See /topics."),
    ("subscriptions without Manage Channels", "reader", "subscriptions", {},
     "Only members with the Manage Channels permission in this channel can do that."),
    ("unsubscribe without Manage Channels", "reader", "unsubscribe", {"topic": "all"},
     "Only members with the Manage Channels permission in this channel can do that."),
    ("/edit of the id '.'", "editor", "edit", {"id": "."}, "There is no update with id .."),
    ("/delete of the id '..'", "editor", "delete", {"id": ".."}, "Usage: /delete <update-id> …"),
    ("/post from a reader", "reader", "post", {}, "Only the newsroom's editors can use /post."),
    ("a form headline of a zero-width space", "editor", "form", {"headline": "\u200b"},
     "Nothing was changed: headline: must contain visible text."),
    ("a form headline with an ANSI escape", "editor", "form", {"headline": "\x1b[31mTalks"},
     "Nothing was changed: headline: must not contain control characters, found U+001B."),
    ("a form body with a clear-screen", "editor", "form", {"body": "Talks\x1b[2J"},
     "Nothing was changed: body: must not contain control characters, found U+001B."),
    ("a form body with NUL", "editor", "form", {"body": "Talks\x00resume"},
     "Nothing was changed: body: must not contain control characters, found U+0000."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "name", "options", "answer"), [c[1:] for c in DISCORD], ids=[c[0] for c in DISCORD]
)
async def test_discord_bad_command_gets_a_clear_answer_and_changes_nothing(
    bot: DiscordAdapter,
    sandbox: DiscordSandbox,
    newsroom: Newsroom,
    editor_id: int,
    commands: Commands,
    client: aioredis.Redis,
    who: str,
    name: str,
    options: dict[str, Any],
    answer: str,
) -> None:
    live = Destination("discord", str(newsroom.live_id))
    await commands.subscriptions.subscribe(live, ["ukraine"])
    before = await _relay_state(client)
    ids = {"owner": newsroom.owner_id, "reader": newsroom.reader_id, "editor": editor_id}
    member = Member(sandbox, newsroom, ids[who])
    if name == "form":
        await member.open("post")
        values = {"topic": "ukraine", "headline": "Talks", "body": "", "link": "", "image": "",
                  **options}  # fmt: skip
        result = await member.submit("relay:post", values)
    else:
        result = await member.run(name, options or None)
    assert text(result) == answer
    assert await _relay_state(client) == before
    assert text(await member.run("topics")).startswith("Topics:")


async def test_discord_a_topic_named_500_times_gets_one_short_answer(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, commands: Commands
) -> None:
    owner = Member(sandbox, newsroom, newsroom.owner_id)
    result = await owner.run("subscribe", {"topic": "climate " * 500})
    assert text(result) == "Subscribed to Climate summit (climate)."
    again = await owner.run("subscribe", {"topic": "climate " * 500})
    assert text(again) == "Already subscribed to Climate summit (climate)."
    live = Destination("discord", str(newsroom.live_id))
    assert await commands.subscriptions.topics(live) == ["climate"]
