"""Sending, editing, deleting and pinning through the real python-telegram-bot and the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapter import AdapterContext
from relay.adapters.telegram import TelegramAdapter, render
from relay.config import Config, TopicConfig
from relay.model import Destination, Image, Update
from tests.adapters.telegram.conftest import admin_group, texts

UKRAINE = TopicConfig("ukraine", "War in Ukraine", hashtag="#Ukraine")
CLIMATE = TopicConfig("climate", "Climate summit", silent=True)
PINNED = TopicConfig("ukraine", "War in Ukraine", pin_breaking=True)
LONG_BODY = "\n\n".join(f"Paragraph {i}. " + "A sentence of the body. " * 60 for i in range(8))


def upd(headline: str = "Kyiv: air raid alert", **fields: object) -> Update:
    return Update(id=str(fields.pop("id", "u1")), topic="ukraine", headline=headline,
                  **fields)  # type: ignore[arg-type]  # fmt: skip


def private(user: User) -> Destination:
    return Destination("telegram", str(user.id))


async def test_send_shows_html_with_entities_and_the_topics_loudness(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    update = upd(body="Sirens in **Kyiv** <now> & later.", link="https://news.example/a?b=1&c=2")
    ids = await adapter.send(private(reader), update, UKRAINE)
    shown = tg.control.transcript(reader.id, bot=account)[-1]
    assert ids == (str(shown.message_id),)
    assert shown.text == (
        "Kyiv: air raid alert\n\nSirens in Kyiv <now> & later.\n\nRead more\n\n#Ukraine"
    )
    assert shown.html == (
        "<b>Kyiv: air raid alert</b>\n\nSirens in <b>Kyiv</b> &lt;now&gt; &amp; later.\n\n"
        '<a href="https://news.example/a?b=1&amp;c=2">Read more</a>\n\n#Ukraine'
    )
    # A lone Read-more link gets its preview; the topic is loud.
    assert shown.link_preview_options == {"url": "https://news.example/a?b=1&c=2"}
    assert shown.disable_notification is False
    await adapter.send(private(reader), upd(id="u2"), CLIMATE)
    assert tg.control.transcript(reader.id, bot=account)[-1].disable_notification is True
    breaking = upd(id="u3", breaking=True)
    await adapter.send(private(reader), breaking, CLIMATE)
    last = tg.control.transcript(reader.id, bot=account)[-1]
    assert last.disable_notification is False  # breaking news is always loud
    assert last.text is not None and last.text.startswith("🔴 BREAKING\nKyiv: air raid alert")


async def test_link_previews_follow_the_topic_setting(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    dest = private(reader)
    two_links = upd(body="See [the map](https://maps.example/k).", link="https://news.example/a")
    await adapter.send(dest, two_links, UKRAINE)
    assert tg.control.transcript(reader.id)[-1].link_preview_options == {"is_disabled": True}
    await adapter.send(dest, two_links, replace(UKRAINE, link_previews="on"))
    assert tg.control.transcript(reader.id)[-1].link_preview_options == {
        "url": "https://news.example/a"
    }
    lone = upd(link="https://news.example/a")
    await adapter.send(dest, lone, replace(UKRAINE, link_previews="off"))
    assert tg.control.transcript(reader.id)[-1].link_preview_options == {"is_disabled": True}


async def test_photo_with_short_caption_is_one_photo(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    image = Image("https://img.example/kyiv.jpg", "Smoke over the city", "Jane Roe/AP")
    ids = await adapter.send(private(reader), upd(body="Short body.", image=image), UKRAINE)
    assert len(ids) == 1
    shown = tg.control.transcript(reader.id)[-1]
    assert shown.photo_url == "https://img.example/kyiv.jpg"
    assert shown.caption == (
        "Kyiv: air raid alert\n\nSmoke over the city\nPhoto: Jane Roe/AP\n\nShort body.\n\n#Ukraine"
    )
    assert "<i>Photo: Jane Roe/AP</i>" in shown.html  # the credit line, in italics
    assert [r.method for r in tg.control.requests()][-1] == "sendPhoto"


async def test_long_photo_update_is_photo_then_text_parts(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    update = upd(body=LONG_BODY, image=Image("https://img.example/k.jpg", "Caption", "AP"))
    messages = render(update, UKRAINE)
    ids = await adapter.send(private(reader), update, UKRAINE)
    shown = tg.control.transcript(reader.id)[-len(ids) :]
    assert len(ids) == len(messages) >= 3
    assert shown[0].photo_url is not None and shown[0].caption is not None
    assert len(shown[0].caption) <= 1024 and shown[0].caption.endswith(f"(1/{len(ids)})")
    assert all(m.text is not None and len(m.text) <= 4096 for m in shown[1:])
    assert shown[-1].content.endswith(f"#Ukraine\n\n({len(ids)}/{len(ids)})")
    body = " ".join(m.content for m in shown[1:])
    assert body.count("A sentence of the body.") == 8 * 60


async def test_edit_that_adds_a_photo_puts_it_in_the_same_message(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    """No delete and resend (the copy would vanish and notify again): editMessageMedia."""
    dest = private(reader)
    ids = await adapter.send(dest, upd(body="Text first."), UKRAINE)
    photo = upd(body="Text first.", image=Image("https://img.example/p.jpg"))
    new_ids = await adapter.edit(dest, photo, UKRAINE, ids)
    assert new_ids[0].partition(":")[0] == ids[0]  # the same message, now a photo part
    shown = tg.control.transcript(reader.id, include_deleted=True)
    assert shown[-1].message_id == int(ids[0]) and not shown[-1].deleted
    assert shown[-1].photo_url == "https://img.example/p.jpg"
    assert tg.control.requests("sendPhoto") == []


async def test_breaking_updates_are_pinned_and_unpinned_when_superseded(
    tg: TelegramSandbox, account: Bot, adapter: TelegramAdapter
) -> None:
    group = admin_group(tg, account)
    dest, pinned = group.dest, group.pinned
    first = await adapter.send(dest, upd(id="b1", breaking=True), PINNED)
    assert pinned() == [int(first[0])]
    await adapter.send(dest, upd(id="r1"), PINNED)  # routine: the pin stays
    assert pinned() == [int(first[0])]
    second = await adapter.send(dest, upd(id="b2", breaking=True), PINNED)
    assert pinned() == [int(second[0])]  # the superseded breaking update was unpinned
    await adapter.edit(dest, upd(id="b2", breaking=False), PINNED, second)
    assert pinned() == []
    await adapter.edit(dest, upd(id="b2", breaking=True), PINNED, second)
    assert pinned() == [int(second[0])]
    await adapter.delete(dest, second)
    assert pinned() == []
    # An admin's own pin is left alone.
    mine = await adapter.send(dest, upd(id="r2"), UKRAINE)
    await tg_pin(tg, adapter, group.id, int(mine[0]))
    third = await adapter.send(dest, upd(id="b3", breaking=True), PINNED)
    assert pinned() == sorted([int(mine[0]), int(third[0])])


async def tg_pin(tg: TelegramSandbox, adapter: TelegramAdapter, chat_id: int, mid: int) -> None:
    """Someone pins a message that is not a breaking update."""
    await adapter.bot.pin_chat_message(chat_id, mid)


async def test_forum_topic_and_channel_destinations(
    tg: TelegramSandbox, account: Bot, adapter: TelegramAdapter
) -> None:
    owner = tg.control.create_user("Olga")
    forum = tg.control.create_chat("supergroup", "Forum", creator=owner.id, is_forum=True)
    tg.control.add_bot(forum.id, account)
    topic = tg.control.create_topic(forum.id, "Ukraine")
    await adapter.send(Destination("telegram", str(forum.id), str(topic.thread_id)), upd(), UKRAINE)
    shown = tg.control.transcript(forum.id)[-1]
    assert shown.thread_id == topic.thread_id and shown.text is not None
    channel = tg.control.create_chat("channel", "News", username="newsch", creator=owner.id)
    tg.control.add_bot(channel.id, account)
    await adapter.send(Destination("telegram", str(channel.id)), upd(), UKRAINE)
    assert texts(tg, channel.id)[-1].startswith("Kyiv: air raid alert")


async def test_paid_broadcast_raises_the_global_budget_and_is_sent(
    tg: TelegramSandbox, reader: User, tg_config: Callable[..., Config]
) -> None:
    config = tg_config()
    paid = replace(config.telegram, budgets=replace(config.telegram.budgets, paid_broadcast=True))
    adapter = TelegramAdapter(replace(config, telegram=paid))
    await adapter.start(AdapterContext())
    try:
        bot_id = config.telegram.token.split(":")[0]
        overall, chat = adapter.budgets(private(reader))
        assert (overall.key, overall.rate) == (f"telegram:{bot_id}:global", 1000.0)
        assert overall.burst == 1  # any one second carries at most the rate
        assert (chat.key, chat.rate, chat.per, chat.burst) == (
            f"telegram:{bot_id}:chat:{reader.id}",
            1.0,
            1.0,
            2,  # one under Telegram's burst of 3: room for a request that arrives early
        )
        group = adapter.budgets(Destination("telegram", "-100123"))[1]
        assert (group.key, group.rate, group.per) == (f"telegram:{bot_id}:chat:-100123", 20.0, 60.0)
        await adapter.send(private(reader), upd(), UKRAINE)
        assert tg.control.requests("sendMessage")[-1].params["allow_paid_broadcast"] in (
            True,
            "true",
            "True",
        )
    finally:
        await adapter.aclose()
