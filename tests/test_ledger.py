"""The ledger's targets: where an update was queued, so its edits and deletes follow it."""

from __future__ import annotations

import redis.asyncio as aioredis

from relay.keys import Keys
from relay.ledger import Ledger, ProgressBook, read_progress
from relay.model import Destination

KEYS = Keys()


async def totals(client: aioredis.Redis, update_id: str) -> tuple[int, dict[str, int]]:
    """What a fan-out of `update_id` that ends now reports: total, and per platform."""
    book = ProgressBook(client, KEYS, 60)
    await book.start(update_id, 1)
    total = await book.fanned_out(update_id)
    progress = await read_progress(client, KEYS, update_id)
    assert progress is not None and progress.total == total and progress.fanned_out
    return total, {name: count for name, _, _, count in progress.platforms}


async def test_targets_are_added_scanned_counted_and_moved(client: aioredis.Redis) -> None:
    ledger = Ledger(client, KEYS, ttl_seconds=60)
    dests = [Destination("memory", f"d{i}") for i in range(300)]
    await ledger.add_targets("u1", dests[:200])
    await ledger.add_targets("u1", dests[150:])  # idempotent where they overlap
    await ledger.add_targets("u1", [])
    assert await totals(client, "u1") == (300, {"memory": 300})
    for key in (KEYS.targets("u1"), KEYS.target_counts("u1")):
        assert 0 < await client.ttl(key) <= 60  # expires with the update
    seen: list[Destination] = []
    cursor, pages = 0, 0
    while True:
        cursor, batch = await ledger.scan_targets("u1", cursor, 50)
        seen += batch
        pages += 1
        if cursor == 0:
            break
    assert sorted(seen, key=str) == sorted(dests, key=str) and pages > 1
    new = Destination("memory", "-1005")
    await ledger.move_target("u1", dests[0], new)
    assert await totals(client, "u1") == (300, {"memory": 300})
    _, members = await ledger.scan_targets("u1", 0, 1000)
    assert new in members and dests[0] not in members
    assert await totals(client, "u2") == (0, {})


async def test_totals_per_platform_count_each_target_once(client: aioredis.Redis) -> None:
    """A batch added again (a fan-out resumed after a crash) or a destination SSCAN returned
    twice must not swell the totals that `relay progress` shows per platform."""
    ledger = Ledger(client, KEYS, ttl_seconds=60)
    telegram = [Destination("telegram", str(-1000 - i)) for i in range(5)]
    discord = [Destination("discord", str(10 + i), str(7 + i) if i % 2 else None)
               for i in range(3)]  # fmt: skip
    await ledger.add_targets("u1", [*telegram[:3], discord[0]])
    await ledger.add_targets("u1", [*telegram, *discord, telegram[0]])
    assert await totals(client, "u1") == (8, {"telegram": 5, "discord": 3})
