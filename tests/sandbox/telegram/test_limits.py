"""Flood limits counted with an injected clock: per chat, per group, global, paid broadcast."""

from __future__ import annotations

import contextlib

import pytest
from relay_sandbox.telegram.errors import ApiError
from relay_sandbox.telegram.limits import FloodLimiter, TelegramLimits
from relay_sandbox.telegram.server import TelegramSandbox, ptb_bot
from telegram.error import RetryAfter

from .conftest import Clock

BOT = 7


def accepted(limiter: FloodLimiter, chat_id: int, chat_type: str, n: int, **kw: bool) -> int:
    ok = 0
    for _ in range(n):
        try:
            limiter.check(BOT, chat_id, chat_type, **kw)
        except ApiError:
            continue
        ok += 1
    return ok


def refusal(limiter: FloodLimiter, chat_id: int, chat_type: str) -> ApiError:
    try:
        limiter.check(BOT, chat_id, chat_type)
    except ApiError as exc:
        return exc
    raise AssertionError("the send was accepted")


def test_private_chat_one_per_second_with_burst(clock: Clock) -> None:
    limiter = FloodLimiter(TelegramLimits(per_chat_burst=3), clock)
    assert accepted(limiter, 1, "private", 10) == 3  # the burst
    err = refusal(limiter, 1, "private")
    assert (err.code, err.description, err.parameters) == (
        429,
        "Too Many Requests: retry after 1",
        {"retry_after": 1},
    )
    clock.advance(1.0)
    assert accepted(limiter, 1, "private", 5) == 1
    clock.advance(60.0)  # the bucket refills to the burst, not beyond
    assert accepted(limiter, 1, "private", 10) == 3
    assert accepted(limiter, 2, "private", 10) == 3  # another chat has its own bucket


def test_group_twenty_per_minute(clock: Clock) -> None:
    limiter = FloodLimiter(TelegramLimits(per_chat_burst=100), clock)
    assert accepted(limiter, -5, "supergroup", 30) == 20
    err = refusal(limiter, -5, "supergroup")
    assert err.parameters == {"retry_after": 60}
    clock.advance(59.0)
    assert accepted(limiter, -5, "supergroup", 1) == 0
    assert refusal(limiter, -5, "supergroup").parameters == {"retry_after": 1}
    clock.advance(1.0)
    assert accepted(limiter, -5, "supergroup", 30) == 20
    assert accepted(limiter, -6, "channel", 30) == 10  # global 30/s caps the rest this second


def test_global_thirty_per_second(clock: Clock) -> None:
    limiter = FloodLimiter(TelegramLimits(), clock)
    assert sum(accepted(limiter, chat, "private", 1) for chat in range(100)) == 30
    clock.advance(1.0)
    assert sum(accepted(limiter, chat, "private", 1) for chat in range(100, 200)) == 30


def test_paid_broadcast_thousand_per_second(clock: Clock) -> None:
    limiter = FloodLimiter(TelegramLimits(), clock)
    assert sum(accepted(limiter, c, "private", 1, paid=True) for c in range(1500)) == 1000
    clock.advance(1.0)
    assert accepted(limiter, 1, "private", 5, paid=True) == 5  # no per-chat limit when paid


def test_limits_switch_off(clock: Clock) -> None:
    limiter = FloodLimiter(TelegramLimits(), clock)
    assert accepted(limiter, 1, "group", 10) == 3
    limiter.configure(TelegramLimits.off())
    assert accepted(limiter, 1, "group", 5000) == 5000
    limiter.configure(TelegramLimits(group_per_minute=2, per_chat_burst=5))
    assert accepted(limiter, 1, "group", 5) == 2


def test_an_album_counts_its_items(clock: Clock) -> None:
    limiter = FloodLimiter(TelegramLimits(per_chat_burst=3), clock)
    limiter.check(BOT, 1, "private", count=10)  # admitted: a slot was free
    assert refusal(limiter, 1, "private").parameters == {"retry_after": 8}
    clock.advance(8.0)
    assert accepted(limiter, 1, "private", 2) == 1


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_edits_count_unless_switched_off(clock: Clock) -> None:
    for count_edits, expected in ((True, [200, 429]), (False, [200, 200])):
        limits = TelegramLimits(per_chat_burst=1, count_edits=count_edits)
        async with TelegramSandbox(limits=limits, clock=clock) as tg:
            account = tg.control.create_bot("b_bot")
            user = tg.control.create_user("Ann")
            tg.control.send_message(user.id, "/start", bot=account)
            async with ptb_bot(tg, account.token) as bot:
                sent = await bot.send_message(user.id, "v1")
                with contextlib.suppress(RetryAfter):
                    await bot.edit_message_text("v2", chat_id=user.id, message_id=sent.message_id)
            sends = [r for r in tg.control.requests() if r.method.startswith(("send", "edit"))]
            assert [r.status for r in sends] == expected
