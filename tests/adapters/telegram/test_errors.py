"""Every Telegram failure becomes the relay's own error, as the dispatcher expects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.telegram import TelegramAdapter
from relay.config import Config, TopicConfig
from relay.errors import Gone, RateLimited, Rejected, Transient
from relay.model import Destination, Update

UKRAINE = TopicConfig("ukraine", "War in Ukraine", hashtag="#Ukraine")
LONG_BODY = "\n\n".join("A sentence of the body. " * 60 for _ in range(8))


def upd(**fields: object) -> Update:
    return Update(id="u1", topic="ukraine", headline="Kyiv", **fields)  # type: ignore[arg-type]


def dest(chat_id: int) -> Destination:
    return Destination("telegram", str(chat_id))


def group(tg: TelegramSandbox, account: Bot, kind: str = "supergroup") -> int:
    owner = tg.control.create_user("Olga")
    chat = tg.control.create_chat(kind, "Desk", creator=owner.id)  # type: ignore[arg-type]
    tg.control.add_bot(chat.id, account)
    return chat.id


async def test_the_sandbox_flood_limit_answers_rate_limited(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    tg.control.set_limits(TelegramLimits(per_chat_per_second=1.0, per_chat_burst=3))
    for _ in range(3):  # the burst
        await adapter.send(dest(reader.id), upd(), UKRAINE)
    with pytest.raises(RateLimited) as caught:
        await adapter.send(dest(reader.id), upd(), UKRAINE)
    assert caught.value.retry_after >= 1.0
    # Telegram's 429 names no limit: the sender holds the bot's shared budget a moment too.
    assert caught.value.budget_key == adapter.budgets(dest(reader.id))[-1].key
    assert not caught.value.named


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        ("block", "Forbidden: bot was blocked by the user"),
        ("deactivate", "Forbidden: user is deactivated"),
    ],
)
async def test_a_reader_gone_is_gone(
    tg: TelegramSandbox,
    account: Bot,
    reader: User,
    adapter: TelegramAdapter,
    breakage: str,
    reason: str,
) -> None:
    if breakage == "block":
        tg.control.block(reader.id, account)
    else:
        tg.control.deactivate(reader.id)
    with pytest.raises(Gone) as caught:
        await adapter.send(dest(reader.id), upd(), UKRAINE)
    assert caught.value.reason == reason
    assert caught.value.destination == str(dest(reader.id))
    assert caught.value.update_id == "u1" and caught.value.platform == "telegram"


async def test_never_started_the_bot_is_gone(tg: TelegramSandbox, adapter: TelegramAdapter) -> None:
    stranger = tg.control.create_user("Stan")
    with pytest.raises(Gone, match="can't initiate conversation"):
        await adapter.send(dest(stranger.id), upd(), UKRAINE)


@pytest.mark.parametrize(
    ("kind", "breakage", "reason"),
    [
        ("supergroup", "kick", "Forbidden: bot was kicked from the supergroup chat"),
        ("group", "kick", "Forbidden: bot was kicked from the group chat"),
        ("channel", "kick", "Forbidden: bot was kicked from the channel chat"),
        ("supergroup", "remove", "Forbidden: bot is not a member of the supergroup chat"),
        ("channel", "remove", "Forbidden: bot is not a member of the channel chat"),
        ("group", "delete", "Forbidden: the group chat was deleted"),
        ("supergroup", "delete", "Chat not found"),
        ("channel", "demote", "Need administrator rights in the channel chat"),
    ],
)
async def test_a_chat_closed_to_the_bot_is_gone(
    tg: TelegramSandbox,
    account: Bot,
    adapter: TelegramAdapter,
    kind: str,
    breakage: str,
    reason: str,
) -> None:
    chat_id = group(tg, account, kind)
    if breakage == "kick":
        tg.control.kick_bot(chat_id, account)
    elif breakage == "remove":
        tg.control.remove_bot(chat_id, account)
    elif breakage == "delete":
        tg.control.delete_chat(chat_id)
    else:
        tg.control.set_member(chat_id, account, "member")
    with pytest.raises(Gone) as caught:
        await adapter.send(dest(chat_id), upd(), UKRAINE)
    assert caught.value.reason == reason


async def test_a_bad_request_is_rejected_with_telegrams_description(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    tg.control.faults.fail_next(
        "sendMessage", error=(400, "Bad Request: can't parse entities: Unsupported start tag")
    )
    with pytest.raises(Rejected) as caught:
        await adapter.send(dest(reader.id), upd(), UKRAINE)
    # python-telegram-bot drops "Bad Request: " and capitalises the description.
    assert caught.value.reason == "Can't parse entities: unsupported start tag"
    with pytest.raises(Rejected, match="Message to edit not found"):
        await adapter.edit(dest(reader.id), upd(), UKRAINE, ("999",))


async def test_a_send_failing_half_way_keeps_its_parts_and_the_retry_sends_the_rest(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    """A reader never sees part 1 vanish and come back: it stays, the retry adds the rest."""
    before = [m.message_id for m in tg.control.transcript(reader.id)]
    sent = {"n": 0}

    def fail_second(event: object) -> None:
        sent["n"] += 1
        if sent["n"] == 1:
            tg.control.faults.fail_next("sendMessage")

    unsubscribe = tg.control.subscribe(fail_second)
    try:
        with pytest.raises(Transient) as failed:
            await adapter.send(dest(reader.id), upd(body=LONG_BODY), UKRAINE)
    finally:
        unsubscribe()
    assert failed.value.sent is not None and len(failed.value.sent) == 1
    shown = [m for m in tg.control.transcript(reader.id) if m.message_id not in before]
    assert [str(m.message_id) for m in shown] == list(failed.value.sent)
    parts = len(adapter.render(upd(body=LONG_BODY), UKRAINE))
    ids = await adapter.send(dest(reader.id), upd(body=LONG_BODY), UKRAINE, sent=failed.value.sent)
    assert len(ids) == parts and ids[0] == failed.value.sent[0]
    shown = [m for m in tg.control.transcript(reader.id) if m.message_id not in before]
    assert [str(m.message_id) for m in shown] == list(ids)
    assert [f"({i}/{parts})" in (m.text or "") for i, m in enumerate(shown, 1)] == [True] * parts
    gone = [m for m in tg.control.transcript(reader.id, include_deleted=True) if m.deleted]
    assert gone == []  # nothing deleted and sent again


async def test_a_bad_token_is_transient_not_gone(
    tg: TelegramSandbox, reader: User, tg_config: Callable[..., Config]
) -> None:
    config = tg_config()
    wrong = replace(config, telegram=replace(config.telegram, token="1:wrong"))
    adapter = TelegramAdapter(wrong)
    try:
        with pytest.raises(Transient):
            await adapter.send(dest(reader.id), upd(), UKRAINE)
    finally:
        await adapter.aclose()
