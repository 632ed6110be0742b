"""The platform-neutral commands: meaning, authorization, and clear answers to bad input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from relay.changes import Changes
from relay.commands import MAX_REPLY, MAX_TOPICS, ChatKind, Commands, Invocation, suggest
from relay.config import Config
from relay.ingest import Ingest
from relay.keys import Keys
from relay.ledger import Ledger, ProgressBook
from relay.model import Action, Destination, Image
from relay.subscriptions import Subscriptions

KEYS = Keys()
PRIVATE = Destination("telegram", "42")
GROUP = Destination("telegram", "-100900")


@dataclass
class Auth:
    """What a platform adapter would answer for the user."""

    editor: bool = False
    manages: set[Destination] = field(default_factory=set)

    async def is_editor(self) -> bool:
        return self.editor

    async def may_manage(self, dest: Destination) -> str | None:
        return None if dest in self.manages else "Only this chat's administrators can do that."


@pytest.fixture
def commands(client: aioredis.Redis, config: Config) -> Commands:
    ingest = Ingest(client, KEYS, config.topic_slugs, 1000)
    return Commands(config, ingest, Subscriptions(client, KEYS))


def inv(command: str, args: str = "", chat: Destination = PRIVATE, **kw: object) -> Invocation:
    kind = ChatKind.PRIVATE if chat == PRIVATE else ChatKind.GROUP
    return Invocation(command, args, chat, kind, "42", **kw)  # type: ignore[arg-type]


async def test_subscribe_list_unsubscribe_in_a_private_chat(commands: Commands) -> None:
    reply = await commands.handle(inv("subscribe", "ukraine Climate"), Auth())
    assert (
        reply.ok
        and reply.text == "Subscribed to War in Ukraine (ukraine), Climate summit (climate)."
    )
    again = await commands.handle(inv("subscribe", "ukraine"), Auth())
    assert again.text == "Already subscribed to War in Ukraine (ukraine)."
    listed = await commands.handle(inv("subscriptions"), Auth())
    assert listed.text == "This chat receives: Climate summit (climate), War in Ukraine (ukraine)."
    gone = await commands.handle(inv("unsubscribe", "all"), Auth())
    assert gone.ok and "Unsubscribed from" in gone.text
    empty = await commands.handle(inv("subscriptions"), Auth())
    assert "no topics yet" in empty.text


async def test_unknown_topic_suggests_the_closest(commands: Commands) -> None:
    reply = await commands.handle(inv("subscribe", "ukrane"), Auth())
    assert not reply.ok
    assert reply.text == "Unknown topic 'ukrane'. Did you mean ukraine? See /topics."
    assert await commands.subscriptions.topics(PRIVATE) == []
    assert suggest("electons", ["ukraine", "elections", "climate"]) == ["elections"]


async def test_groups_need_an_admin(commands: Commands) -> None:
    refused = await commands.handle(inv("subscribe", "ukraine", chat=GROUP), Auth())
    assert not refused.ok and refused.text == "Only this chat's administrators can do that."
    assert await commands.subscriptions.topics(GROUP) == []
    ok = await commands.handle(inv("subscribe", "ukraine", chat=GROUP), Auth(manages={GROUP}))
    assert ok.ok and await commands.subscriptions.topics(GROUP) == ["ukraine"]
    refused = await commands.handle(inv("unsubscribe", "ukraine", chat=GROUP), Auth())
    assert not refused.ok and await commands.subscriptions.topics(GROUP) == ["ukraine"]


async def test_remote_target_is_checked_even_from_a_private_chat(commands: Commands) -> None:
    channel = Destination("telegram", "-100777")
    refused = await commands.handle(inv("subscribe", "ukraine", target=channel), Auth())
    assert not refused.ok and await commands.subscriptions.topics(channel) == []
    ok = await commands.handle(inv("subscribe", "ukraine", target=channel), Auth(manages={channel}))
    assert ok.ok and await commands.subscriptions.topics(channel) == ["ukraine"]


async def test_another_chats_subscriptions_are_for_its_admins_only(commands: Commands) -> None:
    channel = Destination("telegram", "@newsch")
    await commands.subscriptions.subscribe(channel, ["ukraine"])
    refused = await commands.handle(inv("subscriptions", target=channel), Auth())
    assert (refused.ok, refused.text) == (False, "Only this chat's administrators can do that.")
    listed = await commands.handle(inv("subscriptions", target=channel), Auth(manages={channel}))
    assert listed.text == "This chat receives: War in Ukraine (ukraine)."
    # In the chat itself every member sees the list: they see what arrives anyway.
    await commands.subscriptions.subscribe(GROUP, ["climate"])
    own = await commands.handle(inv("subscriptions", chat=GROUP), Auth())
    assert own.text == "This chat receives: Climate summit (climate)."


@pytest.mark.parametrize("name", ["PREVIEW", "Post", "DELETE", "eDiT"])
async def test_a_command_name_is_normalised_before_the_editor_check(
    commands: Commands, client: aioredis.Redis, name: str
) -> None:
    reply = await commands.handle(inv(name, "ukraine Headline"), Auth())
    assert (reply.ok, reply.update) == (False, None)
    assert reply.text == f"Only the newsroom's editors can use /{name.lower()}."
    assert await client.keys("*") == []


async def test_a_topic_named_500_times_is_one_topic(commands: Commands) -> None:
    reply = await commands.handle(inv("subscribe", " ".join(["climate", "#Climate"] * 250)), Auth())
    assert reply.text == "Subscribed to Climate summit (climate)."
    assert reply.subscribed == ("climate",)
    again = await commands.handle(inv("unsubscribe", "climate " * 500), Auth())
    assert again.text == "Unsubscribed from Climate summit (climate)."


@pytest.fixture
def many(client: aioredis.Redis, make_config: Callable[..., Config]) -> Commands:
    """Commands over 300 topics with long descriptions: replies that would not fit."""
    topics = [{"slug": f"t{i}", "title": f"Topic number {i}", "description": "d" * 80}
              for i in range(300)]  # fmt: skip
    config = make_config(topics=topics)
    return Commands(config, Ingest(client, KEYS, config.topic_slugs, 1000),
                    Subscriptions(client, KEYS))  # fmt: skip


async def test_a_command_names_at_most_max_topics(many: Commands) -> None:
    words = " ".join(f"t{i}" for i in range(MAX_TOPICS + 1))
    refused = await many.handle(inv("subscribe", words), Auth())
    assert (refused.ok, refused.text) == (False, f"At most {MAX_TOPICS} topics at a time, please.")
    assert await many.subscriptions.topics(PRIVATE) == []
    words = " ".join(f"t{i}" for i in range(MAX_TOPICS))
    assert (await many.handle(inv("subscribe", words), Auth())).ok


async def test_every_reply_fits_the_smallest_platform_limit(many: Commands) -> None:
    topics = await many.handle(inv("topics"), Auth())
    assert len(topics.text) <= MAX_REPLY and topics.text.endswith("…")
    assert topics.text.startswith("Topics:\n• t0: Topic number 0, ddd")
    assert topics.text.splitlines()[-2].startswith("• t")  # cut at a line, not mid-word
    word = "x" * 4000
    unknown = await many.handle(inv("subscribe", word), Auth())
    assert unknown.text.startswith("Unknown topic 'xxx") and len(unknown.text) < 200
    for i in range(0, 300, MAX_TOPICS):
        await many.handle(inv("subscribe", " ".join(f"t{j}" for j in range(i, i + 20))), Auth())
    listed = await many.handle(inv("subscriptions"), Auth())
    assert len(listed.text) <= MAX_REPLY and listed.text.endswith(")…")


async def test_start_deep_link_subscribes(commands: Commands) -> None:
    reply = await commands.handle(inv("start", "subscribe_climate"), Auth())
    assert reply.ok and await commands.subscriptions.topics(PRIVATE) == ["climate"]
    plain = await commands.handle(inv("start"), Auth())
    assert "/subscribe" in plain.text and "/post" not in plain.text
    editor_help = await commands.handle(inv("help"), Auth(editor=True))
    assert "/post" in editor_help.text


async def test_topics_lists_every_topic(commands: Commands) -> None:
    reply = await commands.handle(inv("topics"), Auth())
    assert reply.text.splitlines()[1:] == [
        "• ukraine: War in Ukraine", "• climate: Climate summit", "• elections: Elections"
    ]  # fmt: skip


async def test_only_editors_post_edit_delete(commands: Commands, client: aioredis.Redis) -> None:
    for command in ("post", "edit", "delete", "preview"):
        reply = await commands.handle(inv(command, "ukraine Headline"), Auth())
        assert not reply.ok and reply.text == f"Only the newsroom's editors can use /{command}."
    assert await client.xlen(KEYS.updates) == 0


async def test_editor_post_edit_delete_flow(commands: Commands, client: aioredis.Redis) -> None:
    editor = Auth(editor=True)
    args = (
        "ukraine --breaking Ceasefire talks resume\nDelegations met.\n\nLink: https://example.org/a"
    )
    photo = Image("https://x.org/p.jpg")
    posted = await commands.handle(inv("post", args, image=photo, author="Eda Editor"), editor)
    assert posted.ok and posted.update is not None
    update = posted.update
    assert (update.headline, update.body, update.link, update.breaking) == (
        "Ceasefire talks resume", "Delegations met.", "https://example.org/a", True
    )  # fmt: skip
    assert update.image == photo and update.author == "Eda Editor"  # never the user id
    assert posted.text.startswith(f"Published update {update.id} to War in Ukraine")
    edited = await commands.handle(inv("edit", f"{update.id} Talks resume in Geneva"), editor)
    assert edited.ok and edited.update is not None and edited.update.revision == 2
    assert edited.update.body == "Delegations met."  # a headline-only edit keeps the body
    by_reply = await commands.handle(
        inv("edit", "Talks resume\nNew body", reply_to_update=update.id), editor
    )
    assert by_reply.update is not None and by_reply.update.body == "New body"
    deleted = await commands.handle(inv("delete", update.id), editor)
    assert deleted.ok and deleted.update is not None and deleted.update.action is Action.DELETE
    assert await client.xlen(KEYS.updates) == 4


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("post", "", "Usage: /post <topic> <headline>"),
        ("post", "ukraine", "needs a headline"),
        ("post", "sport Goal", "Unknown topic 'sport'"),
        ("post", "ukraine " + "h" * 300, "headline: must be at most 256 characters"),
        ("post", "ukraine h\nbody\nLink: ftp://x", "link: must be an absolute http(s) URL"),
        ("edit", "", "Usage: /edit <update-id>"),
        ("edit", "missing-id New headline", "There is no update with id missing-id."),
        ("delete", "missing-id", "There is no update with id missing-id."),
        ("frobnicate", "", "Unknown command /frobnicate"),
    ],
)
async def test_bad_editor_input_gets_a_clear_reply_and_changes_nothing(
    commands: Commands, client: aioredis.Redis, command: str, args: str, expected: str
) -> None:
    reply = await commands.handle(inv(command, args), Auth(editor=True))
    assert not reply.ok and expected in reply.text
    assert await client.xlen(KEYS.updates) == 0


async def test_a_bad_edit_gets_a_clear_reply_and_changes_nothing(
    commands: Commands, client: aioredis.Redis
) -> None:
    editor = Auth(editor=True)
    posted = await commands.handle(
        inv("post", "ukraine Talks\nFirst.\nLink: https://x.org/a"), editor
    )
    assert posted.update is not None
    update_id = posted.update.id
    cases = [
        (inv("edit", f"{update_id} Talks\nBody\nLink: ftp://x.org/a"),
         "Nothing was changed: link: must be an absolute http(s) URL, got 'ftp://x.org/a'."),
        (inv("edit", f"{update_id} Talks\n" + "b" * 10_001),
         "Nothing was changed: body: must be at most 10000 characters, got 10001."),
        (inv("edit", f"{update_id} " + "h" * 257),
         "Nothing was changed: headline: must be at most 256 characters, got 257."),
        (inv("edit", f"{update_id} Talks", image=Image("file:///etc/passwd")),
         "Nothing was changed: image.url: must be an absolute http(s) URL, got 'file:///etc/passwd'."),
        (inv("edit", update_id, changes=Changes()),
         "Nothing was changed: changes: nothing to change."),
    ]  # fmt: skip
    for invocation, expected in cases:
        reply = await commands.handle(invocation, editor)
        assert (reply.ok, reply.text) == (False, expected)
    assert await client.xlen(KEYS.updates) == 1


async def test_an_edit_from_a_form_applies_its_typed_changes(
    commands: Commands, client: aioredis.Redis
) -> None:
    editor = Auth(editor=True)
    posted = await commands.handle(
        inv("post", "ukraine Talks\nFirst.\nLink: https://x.org/a"), editor
    )
    assert posted.update is not None
    changes = Changes(body="Second.", link=None)
    edited = await commands.handle(inv("edit", posted.update.id, changes=changes), editor)
    assert edited.ok and edited.update is not None
    assert (edited.update.headline, edited.update.body, edited.update.link) == (
        "Talks", "Second.", None
    )  # fmt: skip
    assert edited.text == (
        f"Edited update {posted.update.id} (revision 2); every copy is being corrected."
    )


async def test_preview_publishes_nothing(commands: Commands, client: aioredis.Redis) -> None:
    reply = await commands.handle(inv("preview", "climate Draft\nbody"), Auth(editor=True))
    assert reply.ok and reply.preview and reply.update is not None
    assert reply.update.headline == "Draft"
    assert await client.xlen(KEYS.updates) == 0


async def test_progress_of_a_posted_update(commands: Commands, client: aioredis.Redis) -> None:
    posted = await commands.handle(inv("post", "ukraine Headline"), Auth(editor=True))
    assert posted.update is not None
    assert await commands.progress(posted.update.id) is None  # not fanned out yet
    book = ProgressBook(client, KEYS, 60)
    await book.start(posted.update.id, 1)
    await book.count(posted.update.id, 1, Destination("telegram", "-1001"), ok=True)
    dests = [Destination("telegram", "-1001"), Destination("telegram", "-1002")]
    await Ledger(client, KEYS, 60).add_targets(posted.update.id, dests)
    await book.fanned_out(posted.update.id)
    progress = await commands.progress(posted.update.id)
    assert progress is not None and progress.summary() == "delivered 1 / 2 · 0 failed (in progress)"
