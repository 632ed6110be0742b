"""Every failure reaches PTB as the exception the real Bot API would cause."""

from __future__ import annotations

import pytest
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox, ptb_bot
from telegram import Bot as PtbBot
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter


async def test_blocked_deactivated_and_never_started(
    tg: TelegramSandbox, bot: PtbBot, account: Bot, reader: User
) -> None:
    tg.control.block(reader.id, account)
    with pytest.raises(Forbidden) as err:
        await bot.send_message(reader.id, "x")
    assert err.value.message == "Forbidden: bot was blocked by the user"
    tg.control.unblock(reader.id, account)
    assert (await bot.send_message(reader.id, "back")).text == "back"

    stranger = tg.control.create_user("Bob")
    with pytest.raises(Forbidden) as err:
        await bot.send_message(stranger.id, "x")
    assert err.value.message == "Forbidden: bot can't initiate conversation with a user"

    tg.control.deactivate(reader.id)
    with pytest.raises(Forbidden) as err:
        await bot.send_message(reader.id, "x")
    assert err.value.message == "Forbidden: user is deactivated"

    with pytest.raises(Forbidden) as err:
        await bot.send_message(tg.control.create_bot("peer_bot").id, "x")
    assert err.value.message == "Forbidden: the bot can't send messages to the bot"


@pytest.mark.parametrize("kind", ["group", "supergroup", "channel"])
async def test_kicked_and_not_member(
    tg: TelegramSandbox, bot: PtbBot, account: Bot, kind: str
) -> None:
    chat = tg.control.create_chat(kind, "Chat")  # type: ignore[arg-type]
    with pytest.raises(Forbidden) as err:
        await bot.send_message(chat.id, "x")
    assert err.value.message == f"Forbidden: bot is not a member of the {kind} chat"
    tg.control.add_bot(chat.id, account)
    assert (await bot.send_message(chat.id, "hello")).chat.id == chat.id
    tg.control.kick_bot(chat.id, account)
    with pytest.raises(Forbidden) as err:
        await bot.send_message(chat.id, "x")
    assert err.value.message == f"Forbidden: bot was kicked from the {kind} chat"


async def test_group_deleted(tg: TelegramSandbox, bot: PtbBot, account: Bot) -> None:
    group = tg.control.create_chat("group", "Local desk")
    tg.control.add_bot(group.id, account, admin=False)
    tg.control.delete_chat(group.id)
    with pytest.raises(Forbidden) as err:
        await bot.send_message(group.id, "x")
    assert err.value.message == "Forbidden: the group chat was deleted"


async def test_channel_needs_post_right(tg: TelegramSandbox, bot: PtbBot, account: Bot) -> None:
    channel = tg.control.create_chat("channel", "Wire")
    tg.control.add_bot(channel.id, account, rights=("can_delete_messages",))
    with pytest.raises(BadRequest, match=r"^Need administrator rights in the channel chat$"):
        await bot.send_message(channel.id, "x")


async def test_group_upgraded_to_supergroup(tg: TelegramSandbox, bot: PtbBot, account: Bot) -> None:
    owner = tg.control.create_user("Olga")
    group = tg.control.create_chat("group", "Desk", creator=owner.id)
    tg.control.add_bot(group.id, account, admin=False)
    supergroup = tg.control.migrate(group.id)
    with pytest.raises(ChatMigrated) as err:
        await bot.send_message(group.id, "x")
    assert err.value.new_chat_id == supergroup.id
    assert (await bot.send_message(supergroup.id, "moved")).chat.type == "supergroup"
    updates = await bot.get_updates()
    service = [
        (u.message.chat.id, u.message.migrate_to_chat_id, u.message.migrate_from_chat_id)
        for u in updates
        if u.message
    ]
    assert service == [(group.id, supergroup.id, None), (supergroup.id, None, group.id)]


async def test_bad_tokens(tg: TelegramSandbox, account: Bot) -> None:
    unknown = ptb_bot(tg, "123456:" + "A" * 35)
    with pytest.raises(InvalidToken) as err:
        await unknown.get_me()
    assert err.value.message == "Unauthorized"
    malformed = ptb_bot(tg, "not-a-token")
    with pytest.raises(InvalidToken) as err:
        await malformed.get_me()
    assert err.value.message == "Not Found"
    statuses = [r.status for r in tg.control.requests("getMe")]
    assert statuses == [401, 404]


# PTB 22 warns that RetryAfter.retry_after will become a timedelta.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_limit_raises_retry_after() -> None:
    async with TelegramSandbox(limits=TelegramLimits(per_chat_burst=1)) as tg:
        account = tg.control.create_bot("news_bot")
        user = tg.control.create_user("Ann")
        tg.control.send_message(user.id, "/start", bot=account)
        async with ptb_bot(tg, account.token) as bot:
            await bot.send_message(user.id, "one")
            with pytest.raises(RetryAfter) as err:
                await bot.send_message(user.id, "two")
        assert err.value.retry_after == 1
        refused = tg.control.requests("sendMessage")[-1]
        assert (refused.status, refused.description) == (429, "Too Many Requests: retry after 1")
