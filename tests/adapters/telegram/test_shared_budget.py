"""Three workers on one bot token against Telegram's real flood limits (invariant 4).

The sandbox enforces 30 messages/s per bot, 1/s per chat (burst 3) and 20/min per group; the
relay's budgets live in Redis and are shared by the three workers, so the sandbox never has
to refuse anything. One worker dies mid-way; the other two finish its work.
"""

from __future__ import annotations

import asyncio
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

from ...helpers import KEYS, Pipeline

pytestmark = pytest.mark.pace  # no 429 at the real limits: run alone (./dev test)

READERS, GROUPS, UPDATES = 40, 3, 3


async def test_three_workers_share_one_tokens_budget_with_no_429_and_survive_a_death(
    client: Any, tg: TelegramSandbox, account: Bot, tg_config: Callable[..., Config]
) -> None:
    tg.control.set_limits(TelegramLimits())
    config = tg_config(dispatcher={"lease_seconds": 1, "claim_idle_seconds": 1})
    dests: list[Destination] = []
    for i in range(READERS):
        user = tg.control.create_user(f"Reader {i}")
        tg.control.send_message(user.id, "/start", bot=account)
        dests.append(Destination("telegram", str(user.id)))
    for i in range(GROUPS):
        group = tg.control.create_chat("supergroup", f"Group {i}")
        tg.control.add_bot(group.id, account, admin=False)
        dests.append(Destination("telegram", str(group.id)))
    tg.control.set_limits(TelegramLimits())  # forget the setup's traffic

    adapters = [TelegramAdapter(config) for _ in range(3)]
    workers = [Pipeline(client, config, adapters=[a], worker=f"w{i}")
               for i, a in enumerate(adapters)]  # fmt: skip
    for d in dests:
        await workers[0].subs.subscribe(d, ["ukraine"])
    stop = [asyncio.Event() for _ in workers]
    tasks: list[list[asyncio.Task[None]]] = []
    for w, s, a in zip(workers, stop, adapters, strict=True):
        await a.start(AdapterContext())
        await w.dispatcher.stream.ensure_group()
        tasks.append([asyncio.create_task(w.dispatcher.run(s)),
                      asyncio.create_task(w.sender.run(s))])  # fmt: skip
    for i in range(UPDATES):
        await workers[i].ingest.publish(Update(f"s{i}", "ukraine", headline=f"Shared budget {i}"))

    def delivered() -> int:
        return sum(1 for r in tg.control.requests("sendMessage") if r.status == 200)

    try:
        async with asyncio.timeout(60):
            while delivered() < 30:  # noqa: ASYNC110 - the sandbox signals nothing
                await asyncio.sleep(0.02)
            for task in tasks[0]:  # worker 0 dies: no drain, leases left behind
                task.cancel()
            await asyncio.gather(*tasks[0], return_exceptions=True)
            expected = {(str(d), f"Shared budget {i}") for d in dests for i in range(UPDATES)}
            while True:
                shown = {(f"telegram:{m.chat_id}", m.content.split("\n")[0])
                         for d in dests
                         for m in tg.control.transcript(int(d.chat_id))
                         if m.sender_id == account.user.id}  # fmt: skip
                # Done when every copy shows and the survivors have also tidied up what the
                # dead worker held (its leases run out after lease_seconds).
                if shown >= expected and not await client.zcard(KEYS.ready()):
                    break
                await asyncio.sleep(0.1)
    finally:
        for s in stop:
            s.set()
        for group in tasks[1:]:
            await asyncio.gather(*group)
        for a in adapters:
            await a.aclose()

    refused = [r for r in tg.control.requests("sendMessage") if r.status == 429]
    assert refused == []  # the shared budgets kept all three workers under every limit
