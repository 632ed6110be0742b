"""The adapter contract, part two: every platform failure becomes the same relay error.

RateLimited (with `retry_after` and the destination's budget key), Gone, Moved (with the new
id), Rejected (with the platform's reason), Transient; and what a send retried after a lost
answer shows. Each test runs once per harness: memory, Telegram, Discord.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from relay.errors import DeliveryError, Gone, Moved, RateLimited, Rejected, Transient
from relay.model import Destination
from tests.adapters.contract import (
    IDEMPOTENT_SEND,
    MOVED,
    OPS,
    RETRY_AFTER,
    TOPIC,
    Fault,
    Harness,
    Op,
    update,
)

U = update("Echo555 in the water.")
EDITED = update("Foxtrot666, corrected.", revision=2)


async def failing(
    harness: Harness, fault: Fault, expected: type[DeliveryError]
) -> list[tuple[Op, Destination, DeliveryError]]:
    """Inject `fault` into a send, an edit and a delete; return what each one raised."""
    adapter, dest = harness.adapter, await harness.destination()
    ids = await adapter.send(dest, U, TOPIC)
    calls: dict[Op, Callable[[], Awaitable[object]]] = {
        "send": lambda: adapter.send(dest, U, TOPIC),
        "edit": lambda: adapter.edit(dest, EDITED, TOPIC, ids),
        "delete": lambda: adapter.delete(dest, ids),
    }
    raised = []
    for op in OPS:
        with harness.fault(fault, op, dest), pytest.raises(expected) as caught:
            await calls[op]()
        raised.append((op, dest, caught.value))
    # Nothing left behind: the copy still answers, and the chat shows it once.
    assert await adapter.edit(dest, EDITED, TOPIC, ids) == ids
    assert [s.id for s in harness.shown(dest)] == list(ids)
    return raised


def assert_context(
    harness: Harness, dest: Destination, error: DeliveryError, update_id: str | None = U.id
) -> None:
    """The error names the platform, the destination and, unless None, the update."""
    assert (error.platform, error.destination) == (harness.adapter.platform, str(dest))
    if update_id is not None:
        assert error.update_id == update_id


def of(op: Op) -> str | None:
    """The update a failed `op` names: none for a delete, which is of message ids only."""
    return None if op == "delete" else U.id


async def test_a_429_is_rate_limited_on_the_destinations_budget(harness: Harness) -> None:
    for op, dest, error in await failing(harness, "rate_limited", RateLimited):
        assert isinstance(error, RateLimited)
        assert error.retry_after == RETRY_AFTER, op
        # the narrowest budget (the chat's, the channel's): the sender pauses just that one
        assert error.budget_key == harness.adapter.budgets(dest)[-1].key, op
        assert_context(harness, dest, error, of(op))


async def test_a_400_is_rejected_with_the_platforms_reason(harness: Harness) -> None:
    for op, dest, error in await failing(harness, "rejected", Rejected):
        assert error.reason == harness.rejection(op)
        assert_context(harness, dest, error, of(op))


@pytest.mark.parametrize("fault", ["server_error", "network"])
async def test_a_5xx_or_a_dropped_connection_is_transient(harness: Harness, fault: Fault) -> None:
    for op, dest, error in await failing(harness, fault, Transient):
        assert_context(harness, dest, error, of(op))


async def test_a_destination_gone_is_gone_every_time(harness: Harness) -> None:
    for what, dest in await harness.gone():
        for _ in range(2):  # a definite answer, not a passing one
            with pytest.raises(Gone) as caught:
                await harness.adapter.send(dest, U, TOPIC)
            assert caught.value.reason, what
            assert_context(harness, dest, caught.value, None)  # the update: the next test


async def test_a_gone_error_names_the_update(harness: Harness) -> None:
    # Discord's channel-type lookup of a channel the gateway has not cached (deleted, or in a
    # server the bot left) used to raise Gone with update_id "".
    for what, dest in await harness.gone():
        with pytest.raises(Gone) as caught:
            await harness.adapter.send(dest, U, TOPIC)
        assert caught.value.update_id == U.id, what


@pytest.mark.needs(MOVED)
async def test_a_moved_destination_is_moved_with_its_new_id(harness: Harness) -> None:
    old, new = await harness.moved()
    with pytest.raises(Moved) as caught:
        await harness.adapter.send(old, U, TOPIC)
    assert caught.value.new_chat_id == new.chat_id
    assert_context(harness, old, caught.value)
    ids = await harness.adapter.send(new, U, TOPIC)  # and the new id works
    assert [s.id for s in harness.shown(new)] == list(ids)


async def test_a_send_retried_after_a_lost_answer(harness: Harness) -> None:
    """Discord: one copy (the nonce). Telegram and memory: a second copy, as documented."""
    dest = await harness.destination()
    harness.lose_next_answer(dest)
    with pytest.raises(Transient):
        await harness.adapter.send(dest, U, TOPIC)
    assert len(harness.shown(dest)) == 1  # it did arrive: the answer was lost, not the message
    ids = await harness.adapter.send(dest, U, TOPIC)  # the dispatcher's retry
    shown = harness.shown(dest)
    if IDEMPOTENT_SEND in harness.capabilities:
        assert [s.id for s in shown] == list(ids)
    else:
        assert harness.lacks[IDEMPOTENT_SEND]
        assert len(shown) == 2 and shown[-1].id == ids[0] and shown[0].text == shown[1].text
