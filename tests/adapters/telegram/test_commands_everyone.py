"""Everyone's commands in every kind of chat, through the real PTB Application and the sandbox."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.telegram import TelegramAdapter
from relay.commands import Commands
from relay.subscriptions import Subscriptions
from tests.adapters.telegram.conftest import wait_for
from tests.adapters.telegram.desk import Desk
from tests.helpers import KEYS, Pipeline, listening


async def test_private_chat_commands(desk: Desk, reader: User) -> None:
    assert (await desk.ask(reader, "/start")).startswith("This bot relays the newsroom's")
    assert "Editors:" not in await desk.ask(reader, "/help")
    topics = await desk.ask(reader, "/topics")
    assert topics.splitlines()[:2] == ["Topics:", "• ukraine: War in Ukraine"]
    assert await desk.ask(reader, "/subscribe ukraine climate") == (
        "Subscribed to War in Ukraine (ukraine), Climate summit (climate)."
    )
    assert await desk.topics(reader.id) == ["climate", "ukraine"]
    assert await desk.ask(reader, "/subscriptions") == (
        "This chat receives: Climate summit (climate), War in Ukraine (ukraine)."
    )
    assert await desk.ask(reader, "/unsubscribe climate") == (
        "Unsubscribed from Climate summit (climate)."
    )
    assert await desk.ask(reader, "/unsubscribe all") == (
        "Unsubscribed from War in Ukraine (ukraine)."
    )
    assert await desk.topics(reader.id) == []
    assert await desk.ask(reader, "/subscriptions") == (
        "This chat receives no topics yet. Try /topics, then /subscribe."
    )


async def test_deep_link_and_bot_name_suffix(desk: Desk, reader: User) -> None:
    assert await desk.ask(reader, "/start subscribe_climate") == (
        "Subscribed to Climate summit (climate)."
    )
    assert await desk.ask(reader, "/subscribe@relay_bot elections") == (
        "Subscribed to Elections (elections)."
    )
    assert await desk.topics(reader.id) == ["climate", "elections"]


async def test_bad_input_gets_a_clear_reply_and_changes_nothing(desk: Desk, reader: User) -> None:
    assert await desk.ask(reader, "/subscribe ukrane") == (
        "Unknown topic 'ukrane'. Did you mean ukraine? See /topics."
    )
    assert await desk.ask(reader, "/subscribe") == (
        "Which topic? Usage: /subscribe <topic>. See /topics."
    )
    assert await desk.ask(reader, "/unsubscribe ukraine") == "This chat was not subscribed to that."
    assert await desk.ask(reader, "/frobnicate") == "Unknown command /frobnicate. Try /help."
    assert await desk.topics(reader.id) == []


async def test_commands_for_another_bot_are_ignored(
    desk: Desk, tg: TelegramSandbox, reader: User
) -> None:
    tg.control.send_message(reader.id, "/subscribe@other_bot ukraine", bot=desk.account)
    assert await desk.ask(reader, "/subscriptions") == (
        "This chat receives no topics yet. Try /topics, then /subscribe."
    )
    answers = [m for m in tg.control.transcript(reader.id) if m.sender_id == desk.account.id]
    assert len(answers) == 1


async def test_group_admins_manage_subscriptions_others_are_refused(
    desk: Desk, tg: TelegramSandbox, account: Bot
) -> None:
    for kind in ("group", "supergroup"):
        owner = tg.control.create_user("Olga")
        member = tg.control.create_user("Mo")
        chat = tg.control.create_chat(kind, "Readers", creator=owner.id, members=(member.id,))
        tg.control.add_bot(chat.id, account, admin=False)
        refused = await desk.ask(member, "/subscribe ukraine", chat=chat.id)
        assert refused == "Sorry, only this chat's administrators can change what it receives."
        assert await desk.topics(chat.id) == []
        assert await desk.ask(owner, "/subscribe@relay_bot ukraine", chat=chat.id) == (
            "Subscribed to War in Ukraine (ukraine)."
        )
        admin = tg.control.create_user("Ada")
        tg.control.set_member(chat.id, admin, "administrator", rights=("can_manage_chat",))
        assert await desk.ask(admin, "/subscribe climate", chat=chat.id) == (
            "Subscribed to Climate summit (climate)."
        )
        assert await desk.ask(member, "/unsubscribe all", chat=chat.id) == refused
        # Everyone may read the list and the help.
        assert await desk.ask(member, "/subscriptions", chat=chat.id) == (
            "This chat receives: Climate summit (climate), War in Ukraine (ukraine)."
        )
        assert await desk.topics(chat.id) == ["climate", "ukraine"]
        assert await desk.ask(owner, "/unsubscribe ukraine", chat=chat.id) == (
            "Unsubscribed from War in Ukraine (ukraine)."
        )
        # The answer quotes the command it answers.
        answer = (await desk.say(member, "/topics", chat=chat.id))[0]
        assert answer.sender_id == account.id


async def test_unknown_commands_in_groups_are_left_to_other_bots(
    desk: Desk, tg: TelegramSandbox, account: Bot
) -> None:
    owner = tg.control.create_user("Olga")
    chat = tg.control.create_chat("supergroup", "Readers", creator=owner.id)
    tg.control.add_bot(chat.id, account)
    tg.control.send_message(owner.id, "/weather", chat_id=chat.id)
    await desk.ask(owner, "/subscriptions", chat=chat.id)
    answers = [m for m in tg.control.transcript(chat.id) if m.sender_id == account.id]
    assert len(answers) == 1


async def test_a_forum_topic_subscribes_its_own_thread(
    desk: Desk, tg: TelegramSandbox, account: Bot
) -> None:
    owner = tg.control.create_user("Olga")
    forum = tg.control.create_chat("supergroup", "Forum", creator=owner.id, is_forum=True)
    tg.control.add_bot(forum.id, account)
    war = tg.control.create_topic(forum.id, "War")
    climate = tg.control.create_topic(forum.id, "Climate")
    answer = (await desk.say(owner, "/subscribe ukraine", chat=forum.id, thread=war.thread_id))[0]
    assert answer.thread_id == war.thread_id
    assert answer.content == "Subscribed to War in Ukraine (ukraine)."
    await desk.say(owner, "/subscribe climate", chat=forum.id, thread=climate.thread_id)
    assert await desk.topics(forum.id, war.thread_id) == ["ukraine"]
    assert await desk.topics(forum.id, climate.thread_id) == ["climate"]
    assert await desk.topics(forum.id) == []


async def test_a_channel_admin_subscribes_by_posting_in_the_channel(
    desk: Desk, tg: TelegramSandbox, account: Bot
) -> None:
    owner = tg.control.create_user("Olga")
    channel = tg.control.create_chat("channel", "News", username="newsch", creator=owner.id)
    tg.control.add_bot(channel.id, account)
    answer = await desk.ask(owner, "/subscribe ukraine", chat=channel.id)
    assert answer == "Subscribed to War in Ukraine (ukraine)."
    assert await desk.topics(channel.id) == ["ukraine"]
    # The command post was deleted once answered; the answer stays.
    shown = tg.control.transcript(channel.id)
    assert [m.content for m in shown] == [answer]
    assert await desk.ask(owner, "/unsubscribe ukraine", chat=channel.id) == (
        "Unsubscribed from War in Ukraine (ukraine)."
    )
    # Nobody can be told apart in a channel: editor commands are refused there.
    assert await desk.ask(owner, "/post ukraine Headline", chat=channel.id) == (
        "Only the newsroom's editors can use /post."
    )


async def test_remote_channel_subscription_needs_both_admins(
    desk: Desk, tg: TelegramSandbox, account: Bot, reader: User
) -> None:
    owner = tg.control.create_user("Olga")
    tg.control.send_message(owner.id, "hi", bot=account)
    channel = tg.control.create_chat("channel", "News", username="newsch", creator=owner.id)
    assert await desk.ask(owner, "/subscribe ukraine @newsch") == (
        "I am not an administrator of @newsch: add me as an admin who can post messages "
        "there, then try again."
    )
    tg.control.add_bot(channel.id, account, admin=False)
    assert (await desk.ask(owner, f"/subscribe ukraine {channel.id}")).startswith(
        "I am not an administrator of @newsch:"
    )
    tg.control.add_bot(channel.id, account)
    assert await desk.ask(reader, "/subscribe ukraine @newsch") == (
        "You are not an administrator of @newsch, so you can't manage what it receives."
    )
    assert await desk.topics(channel.id) == []
    assert await desk.ask(owner, "/subscribe ukraine climate @newsch") == (
        "Subscribed to War in Ukraine (ukraine), Climate summit (climate)."
    )
    assert await desk.topics(channel.id) == ["climate", "ukraine"]
    assert await desk.topics(owner.id) == []  # the private chat itself subscribed nothing
    assert await desk.ask(owner, f"/subscriptions {channel.id}") == (
        "This chat receives: Climate summit (climate), War in Ukraine (ukraine)."
    )
    # What a channel receives is its admins' business, as on Discord.
    for ref in ("@newsch", str(channel.id)):
        assert await desk.ask(reader, f"/subscriptions {ref}") == (
            "You are not an administrator of @newsch, so you can't manage what it receives."
        )
    assert await desk.ask(owner, "/unsubscribe climate @newsch") == (
        "Unsubscribed from Climate summit (climate)."
    )


async def _anonymously(tg: TelegramSandbox, account: Bot, admin: User, chat: int, text: str) -> str:
    """`admin` posts `text` as the group; the bot's answer."""
    sent = tg.control.send_message(admin.id, text, chat_id=chat, anonymous=True)
    assert sent.sender == "Readers" and sent.sender_id == 1087968824  # GroupAnonymousBot

    def answered(shown: list[Any]) -> bool:
        return any(m.message_id > sent.message_id and m.sender_id == account.id for m in shown)

    shown = await wait_for(tg, chat, answered)
    return str(next(m.content for m in shown if m.message_id > sent.message_id))


async def test_an_anonymous_group_admin_manages_subscriptions(
    desk: Desk, tg: TelegramSandbox, account: Bot
) -> None:
    """An admin posting as the group: `sender_chat` is the group, `from` GroupAnonymousBot."""
    owner = tg.control.create_user("Olga")
    member = tg.control.create_user("Mo")
    chat = tg.control.create_chat("supergroup", "Readers", creator=owner.id, members=(member.id,))
    tg.control.add_bot(chat.id, account, admin=False)
    admin = tg.control.create_user("Ada")
    tg.control.set_member(chat.id, admin, "administrator", rights=("can_manage_chat",))
    assert await _anonymously(tg, account, owner, chat.id, "/subscribe ukraine") == (
        "Subscribed to War in Ukraine (ukraine)."
    )
    assert await _anonymously(tg, account, admin, chat.id, "/subscribe climate") == (
        "Subscribed to Climate summit (climate)."
    )
    assert await desk.topics(chat.id) == ["climate", "ukraine"]
    # Anonymous is nobody in particular: editor commands stay refused.
    assert await _anonymously(tg, account, admin, chat.id, "/post ukraine Hi") == (
        "Only the newsroom's editors can use /post."
    )
    # A member cannot post as the group; as themselves they are refused.
    assert await desk.ask(member, "/unsubscribe all", chat=chat.id) == (
        "Sorry, only this chat's administrators can change what it receives."
    )
    assert await _anonymously(tg, account, owner, chat.id, "/unsubscribe all") == (
        "Unsubscribed from Climate summit (climate), War in Ukraine (ukraine)."
    )


async def test_a_migrated_group_keeps_its_subscriptions(
    desk: Desk, tg: TelegramSandbox, account: Bot
) -> None:
    owner = tg.control.create_user("Olga")
    chat = tg.control.create_chat("group", "Readers", creator=owner.id)
    tg.control.add_bot(chat.id, account)
    await desk.ask(owner, "/subscribe ukraine", chat=chat.id)
    new = tg.control.migrate(chat.id)
    assert await desk.ask(owner, "/subscriptions", chat=new.id) == (
        "This chat receives: War in Ukraine (ukraine)."
    )
    assert await desk.topics(chat.id) == []


async def test_commands_are_registered_per_scope(desk: Desk, editor: User) -> None:
    bot = desk.adapter.bot
    from telegram import BotCommandScopeChat

    everyone = [c.command for c in await bot.get_my_commands()]
    assert everyone == [
        "start",
        "help",
        "topics",
        "subscribe",
        "unsubscribe",
        "subscriptions",
        "settings",
    ]
    mine = [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(editor.id))]
    assert mine == [*everyone, "post", "edit", "delete", "preview", "recent"]


async def test_reading_commands_answer_in_every_kind_of_chat(
    desk: Desk, tg: TelegramSandbox, account: Bot, reader: User
) -> None:
    owner = tg.control.create_user("Olga")
    group = tg.control.create_chat("group", "G", creator=owner.id)
    supergroup = tg.control.create_chat("supergroup", "S", creator=owner.id)
    forum = tg.control.create_chat("supergroup", "F", creator=owner.id, is_forum=True)
    channel = tg.control.create_chat("channel", "C", creator=owner.id)
    for chat in (group, supergroup, forum, channel):
        tg.control.add_bot(chat.id, account)
    thread = tg.control.create_topic(forum.id, "T").thread_id
    places: list[tuple[User, dict[str, int]]] = [
        (reader, {}),
        (owner, {"chat": group.id}),
        (owner, {"chat": supergroup.id}),
        (owner, {"chat": forum.id, "thread": thread}),
        (owner, {"chat": channel.id}),
    ]
    for user, where in places:
        assert (await desk.ask(user, "/start", **where)).startswith("This bot relays")
        assert (await desk.ask(user, "/help", **where)).startswith("This bot relays")
        assert (await desk.ask(user, "/topics", **where)).startswith("Topics:\n• ukraine")
        assert (await desk.ask(user, "/subscriptions", **where)).startswith(
            "This chat receives no topics yet."
        )


async def test_a_failing_backend_still_gets_an_answer(
    client: Any, tg: TelegramSandbox, account: Bot, reader: User, tg_config: Any
) -> None:
    config = tg_config()
    pipeline = Pipeline(client, config, adapters=[])
    nowhere = aioredis.Redis(unix_socket_path="/tmp/lr-no-such-socket")
    commands = Commands(config, pipeline.ingest, Subscriptions(nowhere, KEYS))
    adapter = TelegramAdapter(config, poll_timeout=1.0)
    await adapter.start(listening(commands))
    try:
        tg.control.send_message(reader.id, "/subscribe ukraine", bot=account)
        shown = await wait_for(tg, reader.id, lambda ms: ms[-1].sender_id == account.id)
        assert shown[-1].content == "Sorry, that did not work on our side. Please try again later."
    finally:
        await adapter.aclose()
        await nowhere.aclose()
