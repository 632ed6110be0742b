"""A group takes a burst: Telegram counts 20 messages in any minute, not one every 3 s.

The relay's group budget is a windows budget ("20 in any 60 s" and the chat's "2 in any 2 s"),
so a run of updates goes out two at a time as the chat's own pace allows, and the minute
decides the rest; the sandbox, at Telegram's real limits, refuses nothing.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import Bot
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapter import AdapterContext
from relay.adapters.telegram import TelegramAdapter
from relay.config import Config
from relay.model import Destination, Update

from ...helpers import Pipeline

pytestmark = pytest.mark.pace  # no 429 at the real limits: run alone (./dev test)

UPDATES = 8


async def test_a_run_of_updates_reaches_a_group_in_pairs_with_no_429(
    client: Any, tg: TelegramSandbox, account: Bot, tg_config: Callable[..., Config]
) -> None:
    config = tg_config()
    group = tg.control.create_chat("supergroup", "Newsroom readers")
    tg.control.add_bot(group.id, account, admin=False)
    dest = Destination("telegram", str(group.id))
    tg.control.set_limits(TelegramLimits())  # the real limits, counting from now
    adapter = TelegramAdapter(config)
    world = Pipeline(client, config, adapters=[adapter])
    await world.subs.subscribe(dest, ["ukraine"])
    await adapter.start(AdapterContext())
    for i in range(UPDATES):
        await world.ingest.publish(Update(f"g{i}", "ukraine", headline=f"Burst {i}"))
    await world.fan_out()
    stop = asyncio.Event()
    task = asyncio.create_task(world.sender.run(stop))

    def sent() -> list[Any]:
        return [r for r in tg.control.requests("sendMessage") if r.params.get("chat_id") in
                (group.id, str(group.id))]  # fmt: skip

    try:
        async with asyncio.timeout(60):
            while sum(1 for r in sent() if r.status == 200) < UPDATES:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await adapter.aclose()
    assert [r.status for r in sent()] == [200] * UPDATES  # no 429, nothing sent twice
    headlines = [m.content.split("\n")[0] for m in tg.control.transcript(group.id)
                 if m.sender_id == account.user.id]  # fmt: skip
    assert headlines == [f"Burst {i}" for i in range(UPDATES)]
    gaps = [b.at - a.at for a, b in itertools.pairwise(sent())]
    # A burst: some sends went together (a rate budget of 20 a minute spaced every one 3 s).
    assert min(gaps) < 1.0, gaps
