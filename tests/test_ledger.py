"""The ledger's targets: where an update was queued, so its edits and deletes follow it."""

from __future__ import annotations

import redis.asyncio as aioredis

from relay.keys import Keys
from relay.ledger import Ledger
from relay.model import Destination

KEYS = Keys()


async def test_targets_are_added_scanned_counted_and_moved(client: aioredis.Redis) -> None:
    ledger = Ledger(client, KEYS, ttl_seconds=60)
    dests = [Destination("memory", f"d{i}") for i in range(300)]
    await ledger.add_targets("u1", dests[:200])
    await ledger.add_targets("u1", dests[150:])  # idempotent where they overlap
    await ledger.add_targets("u1", [])
    assert await ledger.count_targets("u1") == 300
    assert 0 < await client.ttl(KEYS.targets("u1")) <= 60  # expires with the update
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
    assert await ledger.count_targets("u1") == 300
    _, members = await ledger.scan_targets("u1", 0, 1000)
    assert new in members and dests[0] not in members
    assert await ledger.count_targets("u2") == 0
