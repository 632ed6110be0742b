"""Multi-part copies: admitted whole, paced to the chat's budget, resumed after a cut, never
flashed; copies no edit can reach (the chat gone, the group migrated) are left alone, once.

Through the relay's pipeline (fan-out → sender → memory adapter) on the test Valkey. The memory
adapter's budgets here are Telegram's for a private chat: 30/s for the bot, 1/s per chat with a
burst of 3, the numbers the sandbox (and Telegram) count with a token bucket.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from relay.adapter import Budget
from relay.adapters.memory import MemoryAdapter
from relay.changes import Changes
from relay.config import Config
from relay.dead_letters import DeadLetters
from relay.errors import Gone, Moved, RateLimited
from relay.ledger import Ledger
from relay.model import Destination, Update

from .helpers import KEYS, Pipeline

CHAT = Destination("memory", "42")


def telegram_like(dest: Destination) -> tuple[Budget, ...]:
    return (
        Budget("memory:bot:global", rate=30, per=1.0),
        Budget(f"memory:bot:chat:{dest.chat_id}", rate=1, per=1.0, burst=3),
    )


def bucket_refusals(times: list[float], rate: float = 1.0, burst: int = 3) -> int:
    """How many of these sends a token bucket (`rate`/s, `burst`) would have refused with 429.

    A 20 ms allowance stands for the network between the relay and the platform's clock.
    """
    tokens, last, refused = float(burst), times[0] if times else 0.0, 0
    for t in times:
        tokens = min(burst, tokens + (t - last) * rate)
        last = t
        if tokens < 1 - 0.02 * rate:
            refused += 1
            continue
        tokens -= 1
    return refused


def long_update(uid: str, word: str = "word") -> Update:
    # max_part=40 below: about three parts
    return Update(uid, "ukraine", headline=f"{uid} headline", body=" ".join([word] * 15))


async def test_two_long_updates_back_to_back_are_paced_and_never_flash(
    client: aioredis.Redis, config: Config
) -> None:
    memory = MemoryAdapter(max_part=40, budgets=telegram_like)
    world = Pipeline(client, config, adapters=[memory])
    await world.subs.subscribe(CHAT, ["ukraine"])
    first, second = long_update("u1"), long_update("u2", "more")
    parts = len(memory.render(first, config.topics[0]))
    assert parts >= 3
    await world.ingest.publish(first)
    await world.ingest.publish(second)
    await world.drain(within=30)
    times = memory.part_times[CHAT]
    assert len(times) == 2 * parts  # every part once: none deleted and sent again
    assert bucket_refusals(times) == 0  # each part went at a moment the platform allows
    assert times[parts] - times[0] >= 0.9  # the second update waited for the chat's budget
    assert [c.op for c in memory.calls] == ["send", "send"]
    assert len(memory.messages[CHAT]) == 2 * parts


async def test_a_send_cut_short_is_resumed_after_its_last_part(
    client: aioredis.Redis, config: Config
) -> None:
    memory = MemoryAdapter(max_part=40)
    world = Pipeline(client, config, adapters=[memory])
    await world.subs.subscribe(CHAT, ["ukraine"])
    update = long_update("u1")
    parts = len(memory.render(update, config.topics[0]))
    memory.fail_part(CHAT, 1, RateLimited(0.2))  # part 2 gets a 429, part 1 went out
    await world.ingest.publish(update)
    await world.drain()
    copy = await Ledger(client, KEYS, 3600).get("u1", CHAT)
    assert copy is not None and not copy.partial and len(copy.message_ids) == parts
    assert list(memory.messages[CHAT]) == list(copy.message_ids)  # shown once each, in order
    assert len(memory.part_times[CHAT]) == parts  # part 1 was not sent twice
    assert [c.op for c in memory.calls] == ["send"]  # no delete, one completed send
    assert memory.messages[CHAT][copy.message_ids[0]].startswith("[War in Ukraine] u1")


async def test_a_cut_copy_edited_before_its_retry_shows_the_latest_revision(
    client: aioredis.Redis, config: Config
) -> None:
    memory = MemoryAdapter(max_part=40)
    world = Pipeline(client, config, adapters=[memory])
    await world.subs.subscribe(CHAT, ["ukraine"])
    memory.fail_part(CHAT, 1, RateLimited(0.2))
    await world.ingest.publish(long_update("u1"))
    await world.fan_out()
    await world.ingest.edit("u1", Changes(body="A short correction."))
    await world.drain()
    copy = await Ledger(client, KEYS, 3600).get("u1", CHAT)
    assert copy is not None and copy.revision == 2 and not copy.partial
    shown = [memory.messages[CHAT][i] for i in copy.message_ids]
    latest = await world.ingest.latest("u1")
    assert latest is not None and shown == list(memory.render(latest, config.topics[0]))
    assert list(memory.messages[CHAT]) == list(copy.message_ids)  # nothing else left behind


async def test_a_copy_in_a_gone_chat_is_left_alone_by_later_edits(
    client: aioredis.Redis, config: Config
) -> None:
    memory = MemoryAdapter()
    world = Pipeline(client, config, adapters=[memory])
    await world.subs.subscribe(CHAT, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="First"))
    await world.drain()
    memory.fail_always(CHAT, Gone("bot was blocked by the user"))
    letters = DeadLetters(client, KEYS)
    for n in range(3):
        await world.ingest.edit("u1", Changes(headline=f"Correction {n}"))
        await world.drain()
    gone = [x for x in await letters.recent() if x.destination == str(CHAT)]
    assert len(gone) == 1 and "gone" in gone[0].reason  # once, not once per edit
    copy = await Ledger(client, KEYS, 3600).get("u1", CHAT)
    assert copy is not None and copy.lost.startswith("gone")
    assert await world.subs.topics(CHAT) == []
    assert [c.op for c in memory.calls] == ["send"]  # the later edits never called the platform


async def test_a_group_that_became_a_supergroup_keeps_old_copies_and_gets_new_updates(
    client: aioredis.Redis, config: Config
) -> None:
    """The documented rule: a copy sent before the migration stays as it was (Telegram shows the
    old group's history in the supergroup and lets no bot change it); an edit of it is recorded
    once and not sent again; updates the old group had not received go to the supergroup."""
    memory = MemoryAdapter()
    world = Pipeline(client, config, adapters=[memory])
    old, new = Destination("memory", "-100"), Destination("memory", "-1009")
    await world.subs.subscribe(old, ["ukraine"])
    await world.ingest.publish(Update("u1", "ukraine", headline="Before the upgrade"))
    await world.drain()
    memory.fail_always(old, Moved("-1009"))
    await world.ingest.edit("u1", Changes(headline="Corrected"))
    await world.ingest.publish(Update("u2", "ukraine", headline="After the upgrade"))
    await world.drain()
    await world.ingest.edit("u1", Changes(headline="Corrected again"))
    await world.drain()
    assert await world.subs.topics(new) == ["ukraine"] and await world.subs.topics(old) == []
    sends = [(c.dest, c.update_id) for c in memory.calls if c.op == "send"]
    assert sends == [(old, "u1"), (new, "u2")]  # u1 is not sent again to the supergroup
    ledger = Ledger(client, KEYS, 3600)
    frozen = await ledger.get("u1", old)
    assert frozen is not None and frozen.lost.startswith("moved to memory:-1009")
    assert await ledger.get("u1", new) is None
    letters = [x for x in await DeadLetters(client, KEYS).recent() if x.source_id == "u1"]
    assert len(letters) == 1 and "supergroup" in letters[0].reason


async def test_a_pending_publish_for_a_migrated_group_goes_to_the_supergroup(
    client: aioredis.Redis, config: Config
) -> None:
    memory = MemoryAdapter()
    world = Pipeline(client, config, adapters=[memory])
    old, new = Destination("memory", "-200"), Destination("memory", "-2009")
    await world.subs.subscribe(old, ["ukraine"])
    memory.fail_always(old, Moved("-2009"))
    await world.ingest.publish(Update("u1", "ukraine", headline="One"))
    await world.ingest.publish(Update("u2", "ukraine", headline="Two"))
    await world.drain()
    sends = [(c.dest, c.update_id) for c in memory.calls if c.op == "send"]
    assert sends == [(new, "u1"), (new, "u2")]
