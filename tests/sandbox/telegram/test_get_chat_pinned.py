"""getChat shows the chat's most recent pinned message, as Telegram does."""

from __future__ import annotations

from relay_sandbox.telegram.records import Bot
from relay_sandbox.telegram.server import TelegramSandbox
from telegram import Bot as PtbBot


async def test_get_chat_returns_the_latest_pinned_message(
    tg: TelegramSandbox, account: Bot, bot: PtbBot
) -> None:
    owner = tg.control.create_user("Olga")
    group = tg.control.create_chat("supergroup", "Desk", creator=owner.id)
    tg.control.add_bot(group.id, account)
    assert (await bot.get_chat(group.id)).pinned_message is None
    first = await bot.send_message(group.id, "first")
    second = await bot.send_message(group.id, "second")
    await bot.pin_chat_message(group.id, first.message_id)
    await bot.pin_chat_message(group.id, second.message_id)
    pinned = (await bot.get_chat(group.id)).pinned_message
    assert pinned is not None and (pinned.message_id, pinned.text) == (second.message_id, "second")
    assert pinned.from_user is not None and pinned.from_user.id == account.id
    await bot.unpin_chat_message(group.id, second.message_id)
    pinned = (await bot.get_chat(group.id)).pinned_message
    assert pinned is not None and pinned.message_id == first.message_id
    await bot.delete_message(group.id, first.message_id)
    assert (await bot.get_chat(group.id)).pinned_message is None
