"""Workers sharing a bot token: only the lease holder long-polls, another takes over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.telegram import TelegramAdapter
from relay.commands import Commands
from relay.config import Config
from tests.adapters.telegram.conftest import WAIT, wait_for
from tests.helpers import Pipeline, listening


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - the state lives in PTB and Redis
            await asyncio.sleep(0.02)


async def test_one_worker_polls_and_another_takes_over(
    client: Any,
    tg: TelegramSandbox,
    account: Bot,
    reader: User,
    tg_config: Callable[..., Config],
) -> None:
    config = tg_config()
    pipeline = Pipeline(client, config, adapters=[])
    commands = Commands(config, pipeline.ingest, pipeline.subs)
    first = TelegramAdapter(config, poll_timeout=1.0, lease_seconds=0.6)
    second = TelegramAdapter(config, poll_timeout=1.0, lease_seconds=0.6)
    await first.start(listening(commands))
    try:
        await until(lambda: first.polling)
        await second.start(listening(commands))
        assert second.lease is not None and await second.lease.hold() is False
        assert not second.polling
        tg.control.send_message(reader.id, "/subscribe ukraine", bot=account)
        await wait_for(tg, reader.id, lambda ms: ms[-1].content.startswith("Subscribed"))
        assert tg.control.requests("getUpdates")
        assert not [r for r in tg.control.requests("getUpdates") if r.status == 409]
        await first.aclose()  # releases the lease: the second worker polls from now on
        await until(lambda: second.polling)
        tg.control.send_message(reader.id, "/subscriptions", bot=account)
        await wait_for(tg, reader.id, lambda ms: ms[-1].content.startswith("This chat receives"))
    finally:
        await first.aclose()
        await second.aclose()
