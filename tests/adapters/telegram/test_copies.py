"""Every Telegram copy shows the latest revision: photos replaced, added and removed, parts kept.

Through the real python-telegram-bot against the sandbox, reading the chats as a reader sees
them and the sandbox's request log as Telegram would count the relay's calls.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from relay_sandbox.telegram.html import process_text
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.render import DisplayedMessage
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.telegram import TelegramAdapter, render
from relay.adapters.telegram.delivery import NOT_MODIFIED, message_number
from relay.config import TopicConfig
from relay.errors import RateLimited
from relay.model import Destination, Image, Update
from tests.adapters.telegram.conftest import admin_group

UKRAINE = TopicConfig("ukraine", "War in Ukraine", hashtag="#Ukraine")
LONG = "\n\n".join(f"Paragraph {i}. " + "A sentence of the body. " * 60 for i in range(6))
MEDIUM = "\n\n".join(f"Paragraph {i}. " + "A sentence of the body. " * 60 for i in range(4))
KYIV = Image("https://img.example/kyiv.jpg", "Smoke over the city", "AP")
SLOW_DOWN = (429, "Too Many Requests: retry after 3")


def upd(revision: int = 1, **fields: object) -> Update:
    fields.setdefault("headline", "Kyiv: air raid alert")
    return Update(id="u1", topic="ukraine", revision=revision, **fields)  # type: ignore[arg-type]


def private(user: User) -> Destination:
    return Destination("telegram", str(user.id))


def relayed(tg: TelegramSandbox, chat_id: int, account: Bot) -> list[DisplayedMessage]:
    """The relay's messages a reader sees in the chat, oldest first."""
    shown = tg.control.transcript(chat_id, bot=account)
    return [m for m in shown if m.sender_id in (account.id, None) and not m.service]


def assert_shows(tg: TelegramSandbox, chat_id: int, account: Bot, update: Update) -> None:
    """The chat shows `update` exactly as rendered: each part once, in order, nothing else."""
    expected = [(m.photo, process_text(m.html, "html")[0]) for m in render(update, UKRAINE)]
    shown = [(m.photo_url, m.content) for m in relayed(tg, chat_id, account)]
    assert shown == expected


def bad_requests(tg: TelegramSandbox) -> list[str]:
    return [f"{r.method}: {r.description}" for r in tg.control.requests() if r.status == 400]


async def test_a_replaced_photo_reaches_every_copy_and_a_new_credit_only_the_caption(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    owner = tg.control.create_user("Olga")
    channel = tg.control.create_chat("channel", "News", creator=owner.id)
    tg.control.add_bot(channel.id, account)
    dests = [private(reader), Destination("telegram", str(channel.id))]
    chats = [reader.id, channel.id]
    first = upd(body="Short body.", image=KYIV)
    ids = [await adapter.send(dest, first, UKRAINE) for dest in dests]
    sent = [relayed(tg, chat, account)[-1].message_id for chat in chats]

    moved = upd(2, body="Short body.", image=replace(KYIV, url="https://img.example/new.jpg"))
    ids = [await adapter.edit(d, moved, UKRAINE, i) for d, i in zip(dests, ids, strict=True)]
    for chat, message_id in zip(chats, sent, strict=True):
        assert_shows(tg, chat, account, moved)
        shown = relayed(tg, chat, account)[-1]
        assert shown.message_id == message_id  # edited in place, not sent again
        assert shown.history[-1].photo is not None
        assert shown.history[-1].photo.url == KYIV.url
    calls = tg.control.requests("editMessageMedia")
    assert len(calls) == 2 and not tg.control.requests("editMessageCaption")
    media = json.loads(calls[0].params["media"])
    assert (media["type"], media["media"], media["parse_mode"]) == (
        "photo", "https://img.example/new.jpg", "HTML",
    )  # fmt: skip
    assert media["caption"] == render(moved, UKRAINE)[0].html

    credited = upd(3, body="Short body.", image=replace(moved.image, credit="Jane Roe/AP"))  # type: ignore[arg-type]
    for dest, copy in zip(dests, ids, strict=True):
        await adapter.edit(dest, credited, UKRAINE, copy)
    for chat in chats:
        assert_shows(tg, chat, account, credited)
    assert len(tg.control.requests("editMessageMedia")) == 2  # the picture did not change
    assert len(tg.control.requests("editMessageCaption")) == 2
    assert bad_requests(tg) == []


async def test_a_photo_added_replaced_twice_and_removed_without_one_bad_request(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    dest = private(reader)
    pictures = [
        "https://img.example/a.jpg",
        "https://img.example/b.jpg",
        "https://img.example/c.jpg",
    ]
    revisions = [
        upd(1, body="Sirens in Kyiv."),
        upd(2, body="Sirens in Kyiv.", image=replace(KYIV, url=pictures[0])),
        upd(3, body=LONG, image=replace(KYIV, url=pictures[1])),  # photo, then text parts
        upd(4, body="Shorter now.", image=replace(KYIV, url=pictures[2], credit="Reuters")),
        upd(5, body=LONG),  # the photo is gone: text parts only
        upd(6, body="All clear.", image=replace(KYIV, url=pictures[0])),
        upd(7, body="All clear."),
    ]
    ids = await adapter.send(dest, revisions[0], UKRAINE)
    assert_shows(tg, reader.id, account, revisions[0])
    for revision in revisions[1:]:
        before = message_number(ids[0])
        ids = await adapter.edit(dest, revision, UKRAINE, ids)
        assert_shows(tg, reader.id, account, revision)
        assert len(ids) == len(render(revision, UKRAINE))
        if revision.image is not None:  # a photo added or changed: the same message, in place
            assert message_number(ids[0]) == before
    assert bad_requests(tg) == []
    # In place: text → a (revisions 2 and 6), a → b, b → c; only removals replaced the copy.
    assert len(tg.control.requests("editMessageMedia")) == 4
    assert tg.control.requests("sendPhoto") == []
    await adapter.delete(dest, ids)
    assert relayed(tg, reader.id, account) == []


async def test_photo_ids_name_the_part_and_pins_and_deletes_read_them(
    tg: TelegramSandbox, account: Bot, adapter: TelegramAdapter
) -> None:
    group = admin_group(tg, account)
    dest = group.dest
    pinning = replace(UKRAINE, pin_breaking=True)
    ids = await adapter.send(dest, upd(body=LONG, image=KYIV, breaking=True), pinning)
    shown = relayed(tg, group.id, account)
    assert ids[0].startswith(f"{shown[0].message_id}:photo:")  # the photo part says so
    assert ids[1:] == tuple(str(m.message_id) for m in shown[1:])  # text parts: plain digits
    assert group.pinned() == [shown[0].message_id]
    calm = upd(2, body=LONG, image=KYIV)
    ids = await adapter.edit(dest, calm, pinning, ids)
    assert group.pinned() == []
    await adapter.delete(dest, ids)
    assert relayed(tg, group.id, account) == []
    # Only the breaking marker changed: the text parts are edited to what they already show.
    assert {r.split(": ", 1)[0] for r in bad_requests(tg)} == {"editMessageText"}
    assert all(NOT_MODIFIED in r.lower() for r in bad_requests(tg))


async def test_a_copy_recorded_before_photo_ids_were_marked_is_still_edited(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    dest = private(reader)
    ids = await adapter.send(dest, upd(body="Short.", image=KYIV), UKRAINE)
    legacy = (ids[0].partition(":")[0],)  # what the ledger held before: plain digits
    text = upd(2, body="Short, and no photo any more.")
    ids = await adapter.edit(dest, text, UKRAINE, legacy)
    assert_shows(tg, reader.id, account, text)
    # The one way to learn an unmarked part is a photo: Telegram's answer to a text edit.
    assert bad_requests(tg) == [
        "editMessageText: Bad Request: there is no text in the message to edit"
    ]


async def test_a_send_cut_short_keeps_its_parts_and_the_retry_sends_only_the_rest(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    dest = private(reader)
    update = upd(body=LONG)
    assert len(render(update, UKRAINE)) == 3
    tg.control.faults.fail_next("sendMessage", skip=1, error=SLOW_DOWN)
    with pytest.raises(RateLimited) as cut:
        await adapter.send(dest, update, UKRAINE)
    first = relayed(tg, reader.id, account)
    assert cut.value.sent == (str(first[0].message_id),) and len(first) == 1
    assert cut.value.retry_after == 3
    assert tg.control.requests("deleteMessage") == []  # nothing a reader saw was taken back
    ids = await adapter.send(dest, update, UKRAINE, sent=cut.value.sent)
    assert ids[0] == cut.value.sent[0] and len(ids) == 3
    assert_shows(tg, reader.id, account, update)
    assert len(tg.control.requests("sendMessage")) == 4  # parts 1, 2 (refused), 2, 3


async def test_an_edit_cut_short_after_adding_a_part_says_what_the_copy_has(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    dest = private(reader)
    ids = await adapter.send(dest, upd(body="Short."), UKRAINE)
    longer = upd(2, body=LONG)
    tg.control.faults.fail_next("sendMessage", skip=1, error=SLOW_DOWN)  # part 3 of the edit
    with pytest.raises(RateLimited) as cut:
        await adapter.edit(dest, longer, UKRAINE, ids)
    shown = relayed(tg, reader.id, account)
    assert cut.value.sent == (ids[0], str(shown[1].message_id)) and len(shown) == 2
    ids = await adapter.edit(dest, longer, UKRAINE, cut.value.sent)
    assert ids[:2] == cut.value.sent
    assert_shows(tg, reader.id, account, longer)
    assert tg.control.requests("deleteMessage") == []


async def test_a_replacement_cut_short_keeps_the_new_parts_and_the_retry_finishes_them(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    """The photo removed from a copy: the text copy replaces it; a 429 on its part 2 leaves
    part 1 (the old photo already gone), and the retry sends only parts 2 and 3."""
    dest = private(reader)
    ids = await adapter.send(dest, upd(body="Photo first.", image=KYIV), UKRAINE)
    text = upd(2, body=LONG)
    assert len(render(text, UKRAINE)) == 3
    tg.control.faults.fail_next("sendMessage", skip=1, error=SLOW_DOWN)  # the new part 2
    with pytest.raises(RateLimited) as cut:
        await adapter.edit(dest, text, UKRAINE, ids)
    shown = relayed(tg, reader.id, account)
    assert [m.photo_url for m in shown] == [None]  # the photo went, the new part 1 stays
    assert cut.value.sent == (str(shown[0].message_id),)
    await adapter.edit(dest, text, UKRAINE, cut.value.sent)
    assert_shows(tg, reader.id, account, text)
    sent = [r for r in tg.control.requests("sendMessage") if r.status == 200]
    assert len(sent) == 3  # part 1 was never sent twice


async def test_an_edit_cut_short_after_a_new_picture_records_it(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    dest = private(reader)
    ids = await adapter.send(dest, upd(body=LONG, image=KYIV), UKRAINE)
    moved = upd(2, body=LONG + " More.", image=replace(KYIV, url="https://img.example/new.jpg"))
    tg.control.faults.fail_next("editMessageText", skip=1, error=SLOW_DOWN)
    with pytest.raises(RateLimited) as cut:
        await adapter.edit(dest, moved, UKRAINE, ids)
    assert cut.value.sent is not None and cut.value.sent[1:] == ids[1:]
    assert cut.value.sent[0] != ids[0]  # same message, the new picture's name
    await adapter.edit(dest, moved, UKRAINE, cut.value.sent)
    assert_shows(tg, reader.id, account, moved)
    assert len(tg.control.requests("editMessageMedia")) == 1  # the retry knew it was done


async def test_the_byline_and_a_credit_that_says_photo_itself(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    image = replace(KYIV, credit="Photo: AP")
    update = upd(body="Short body.", image=image, author="Jane Doe")
    await adapter.send(private(reader), update, UKRAINE)
    shown = relayed(tg, reader.id, account)[-1]
    assert shown.caption == (
        "Kyiv: air raid alert\nBy Jane Doe\n\nSmoke over the city\nPhoto: AP\n\nShort body."
        "\n\n#Ukraine"
    )
    assert "<i>By Jane Doe</i>" in shown.html and "<i>Photo: AP</i>" in shown.html
    await adapter.send(private(reader), upd(body="x", image=replace(KYIV, credit="AP")), UKRAINE)
    assert "Photo: AP" in relayed(tg, reader.id, account)[-1].content
    await adapter.send(private(reader), upd(body=LONG, author="Jane Doe"), UKRAINE)
    assert relayed(tg, reader.id, account)[-3].content.startswith(
        "Kyiv: air raid alert\nBy Jane Doe\n\nParagraph 0."
    )


async def test_a_body_of_300_links_keeps_every_link(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    body = " ".join(f"[source {i}](https://src.example/{i})" for i in range(300))
    update = upd(body=body, link="https://news.example/live")
    parts = render(update, UKRAINE)
    await adapter.send(private(reader), update, UKRAINE)
    shown = relayed(tg, reader.id, account)
    assert len(shown) == len(parts) >= 3
    links = [e["url"] for m in shown for e in m.entities if e["type"] == "text_link"]
    assert links == [f"https://src.example/{i}" for i in range(300)] + [update.link]
    assert all(len(m.entities) <= 100 for m in shown)
    assert_shows(tg, reader.id, account, update)
