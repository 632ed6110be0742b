"""Injected faults reach PTB as real failures would: 5xx, dropped connections, scripted errors."""

from __future__ import annotations

import pytest
from relay_sandbox.telegram.records import User
from relay_sandbox.telegram.server import TelegramSandbox
from telegram import Bot as PtbBot
from telegram.error import Forbidden, NetworkError


async def test_bad_gateway_is_a_network_error(
    tg: TelegramSandbox, bot: PtbBot, reader: User
) -> None:
    tg.control.faults.fail_next("sendMessage")
    with pytest.raises(NetworkError) as err:
        await bot.send_message(reader.id, "x")
    assert type(err.value) is NetworkError and err.value.message == "Bad Gateway"
    assert (await bot.send_message(reader.id, "retried")).text == "retried"
    assert [m.text for m in tg.control.transcript(reader.id)] == ["/start", "retried"]


async def test_dropped_connection(tg: TelegramSandbox, bot: PtbBot, reader: User) -> None:
    tg.control.faults.fail_next("sendmessage", drop=True)
    with pytest.raises(NetworkError):
        await bot.send_message(reader.id, "lost")
    assert tg.control.requests("sendMessage")[-1].status == 0
    assert [m.text for m in tg.control.transcript(reader.id)] == ["/start"]


async def test_answer_lost_after_the_send(tg: TelegramSandbox, bot: PtbBot, reader: User) -> None:
    tg.control.faults.fail_next("sendMessage", drop=True, after=True)
    with pytest.raises(NetworkError):
        await bot.send_message(reader.id, "ambiguous")
    # The message went out although the client never heard so.
    assert [m.text for m in tg.control.transcript(reader.id)] == ["/start", "ambiguous"]
    log = tg.control.requests("sendMessage")[-1]
    assert (log.status, log.description) == (0, "connection dropped (after the call took effect)")


async def test_scripted_error_for_one_chat(tg: TelegramSandbox, bot: PtbBot, reader: User) -> None:
    other = tg.control.create_user("Bob")
    tg.control.send_message(other.id, "/start", bot=tg.control.world.bot_by_id(bot.id))
    tg.control.faults.fail_next(
        "sendMessage", 2, chat_id=reader.id, error=(403, "Forbidden: bot was blocked by the user")
    )
    assert (await bot.send_message(other.id, "fine")).text == "fine"
    for _ in range(2):
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(reader.id, "x")
    assert (await bot.send_message(reader.id, "third")).text == "third"


async def test_error_rate_and_delay(tg: TelegramSandbox, bot: PtbBot, reader: User) -> None:
    tg.control.faults.set_rates(error_rate=1.0)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_chat(reader.id)
    tg.control.faults.set_rates(error_rate=0.5)
    outcomes = []
    for _ in range(40):
        try:
            await bot.get_chat(reader.id)
            outcomes.append(True)
        except NetworkError:
            outcomes.append(False)
    assert 0 < outcomes.count(False) < 40
    tg.control.faults.clear()
    tg.control.faults.set_rates(delay=0.01)
    assert (await bot.send_message(reader.id, "slow")).text == "slow"
    tg.control.faults.clear()
    assert tg.control.faults.pick("sendMessage", reader.id) is None
