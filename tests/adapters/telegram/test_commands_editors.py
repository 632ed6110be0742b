"""Editors post, edit, delete and preview from Telegram; progress is edited in place."""

from __future__ import annotations

import re

from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.render import DisplayedMessage
from relay_sandbox.telegram.server import TelegramSandbox

from relay.model import Destination
from tests.adapters.telegram.conftest import wait_for
from tests.adapters.telegram.desk import Desk

PUBLISHED = re.compile(
    r"^Published update (\S+) to War in Ukraine \(ukraine\): "
    r"on its way to (\d+) subscribed chats?\.$"
)


async def subscribed(desk: Desk, *users: User) -> None:
    for user in users:
        await desk.pipeline.subs.subscribe(Destination("telegram", str(user.id)), ["ukraine"])


async def confirmation_says(
    desk: Desk, editor: User, message_id: int, ending: str
) -> DisplayedMessage:
    """Wait until the editor's confirmation message (edited in place) ends with `ending`."""

    def shown(ms: list[DisplayedMessage]) -> bool:
        return any(m.message_id == message_id and m.content.endswith(ending) for m in ms)

    found = await wait_for(desk.tg, editor.id, shown, bot=desk.account)
    return next(m for m in found if m.message_id == message_id)


async def test_post_then_progress_edited_in_place_until_done(
    desk: Desk, tg: TelegramSandbox, account: Bot, editor: User, reader: User
) -> None:
    gone = tg.control.create_user("Gus")
    tg.control.send_message(gone.id, "hi", bot=account)
    await subscribed(desk, reader, gone)
    tg.control.block(gone.id, account)
    answer = (await desk.say(
        editor, "/post ukraine Air raid alert in Kyiv\nSirens across the city.\n\n"
        "Link: https://news.example/a",
    ))[0]  # fmt: skip
    match = PUBLISHED.match(answer.content)
    assert match is not None and match.group(2) == "2", answer.content
    await desk.pipeline.drain()
    done = await confirmation_says(desk, editor, answer.message_id,
                                   "delivered 1 / 2 · 1 failed (done)")  # fmt: skip
    assert done.content.startswith(answer.content)
    assert done.edit_date is not None and len(done.history) >= 1  # edited, not a new message
    copy = tg.control.transcript(reader.id, bot=account)[-1]
    assert copy.text == (
        "Air raid alert in Kyiv\nBy Eda\n\nSirens across the city.\n\nRead more\n\n#Ukraine"
    )
    assert copy.link_preview_options == {"url": "https://news.example/a"}
    # The blocked reader was unsubscribed.
    assert await desk.topics(gone.id) == []


async def test_photo_post_edit_reply_edit_and_delete(
    desk: Desk, tg: TelegramSandbox, account: Bot, editor: User, reader: User
) -> None:
    await subscribed(desk, reader)
    answer = (await desk.say(editor, "/post ukraine Smoke over Kyiv\nSeen from the river.",
                             photo=b"\x89PNG fake"))[0]  # fmt: skip
    match = PUBLISHED.match(answer.content)
    assert match is not None, answer.content
    update_id = match.group(1)
    await desk.pipeline.drain()
    command_post = next(m for m in tg.control.transcript(editor.id, bot=account) if m.photo)
    copy = tg.control.transcript(reader.id, bot=account)[-1]
    assert copy.photo == command_post.photo  # the editor's upload, sent by file id
    assert copy.caption == "Smoke over Kyiv\nBy Eda\n\nSeen from the river.\n\n#Ukraine"

    edited = await desk.ask(editor, f"/edit {update_id} Smoke over central Kyiv\nNew body.")
    assert edited == f"Edited update {update_id} (revision 2); every copy is being corrected."
    await desk.pipeline.drain()
    copy2 = tg.control.transcript(reader.id, bot=account)[-1]
    assert copy2.message_id == copy.message_id  # corrected in place
    assert copy2.caption == "Smoke over central Kyiv\nBy Eda\n\nNew body.\n\n#Ukraine"

    # /edit as a reply to the bot's confirmation: the update id comes from the replied text.
    again = await desk.ask(editor, "/edit Smoke over all of Kyiv", reply_to=answer.message_id)
    assert again == f"Edited update {update_id} (revision 3); every copy is being corrected."
    await desk.pipeline.drain()
    copy3 = tg.control.transcript(reader.id, bot=account)[-1]
    assert copy3.caption is not None and copy3.caption.startswith("Smoke over all of Kyiv\n")

    deleted = await desk.ask(editor, f"/delete {update_id}")
    assert deleted == f"Deleted update {update_id}; every copy is being removed."
    await desk.pipeline.drain()
    assert [m.message_id for m in tg.control.transcript(reader.id, bot=account)] == [1]


async def test_preview_renders_without_publishing(
    desk: Desk, tg: TelegramSandbox, account: Bot, editor: User, reader: User
) -> None:
    await subscribed(desk, reader)
    command = "/preview ukraine --breaking Test headline\nA bold <b> body."
    bold = command.index("bold")  # formatted in the app: the bot gets the entity, no stars
    entities = ({"type": "bot_command", "offset": 0, "length": 8},
                {"type": "bold", "offset": bold, "length": 4})  # fmt: skip
    sent = tg.control.send_message(editor.id, command, bot=account, entities=entities)

    def answered(ms: list[DisplayedMessage]) -> bool:
        return sum(m.message_id > sent.message_id for m in ms) >= 2

    shown = [m for m in await wait_for(tg, editor.id, answered, bot=account)
             if m.message_id > sent.message_id]  # fmt: skip
    assert shown[0].content == "Preview (not published):"
    assert shown[1].text == "🔴 BREAKING\nTest headline\nBy Eda\n\nA bold <b> body.\n\n#Ukraine"
    assert "<b>bold</b> &lt;b&gt;" in shown[1].html
    await desk.pipeline.drain()
    assert [m.content for m in tg.control.transcript(reader.id, bot=account)] == ["hi"]


async def test_editor_commands_refuse_bad_input_and_non_editors(
    desk: Desk, tg: TelegramSandbox, account: Bot, editor: User, reader: User
) -> None:
    await subscribed(desk, reader)
    assert await desk.ask(reader, "/post ukraine Headline") == (
        "Only the newsroom's editors can use /post."
    )
    assert await desk.ask(reader, "/delete x1") == "Only the newsroom's editors can use /delete."
    assert await desk.ask(editor, "/post") == (
        "Usage: /post <topic> <headline>, then the body on new lines."
    )
    assert await desk.ask(editor, "/post ukrane Headline") == (
        "Unknown topic 'ukrane'. Did you mean ukraine? See /topics."
    )
    assert await desk.ask(editor, "/post ukraine") == "The update needs a headline after the topic."
    assert await desk.ask(editor, "/post ukraine " + "x" * 300) == (
        "Nothing was changed: headline: must be at most 256 characters, got 300."
    )
    assert await desk.ask(editor, "/edit nope-1 New headline") == (
        "There is no update with id nope-1."
    )
    assert await desk.ask(editor, "/delete") == "Usage: /delete <update-id> …"
    assert "Editors:" in await desk.ask(editor, "/help")
    await desk.pipeline.drain()
    shown = tg.control.transcript(reader.id, bot=account)
    assert not [m for m in shown if "#Ukraine" in m.content]  # nothing was published


async def test_editor_commands_in_a_group_topic(
    desk: Desk, tg: TelegramSandbox, account: Bot, editor: User
) -> None:
    forum = tg.control.create_chat("supergroup", "Desk", creator=editor.id, is_forum=True)
    tg.control.add_bot(forum.id, account)
    thread = tg.control.create_topic(forum.id, "Desk").thread_id
    answer = (await desk.say(editor, "/post ukraine From the desk", chat=forum.id,
                             thread=thread))[0]  # fmt: skip
    assert PUBLISHED.match(answer.content) and answer.thread_id == thread
