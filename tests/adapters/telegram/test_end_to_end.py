"""The whole relay (ingest → fan-out → sender → this adapter) against the sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.render import DisplayedMessage
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapter import AdapterContext
from relay.adapters.telegram import TelegramAdapter
from relay.app import Relay
from relay.config import ChannelConfig, Config
from relay.model import Destination, Update
from tests.adapters.telegram.conftest import wait_for
from tests.helpers import Pipeline


async def test_relay_commands_to_copies_with_progress(
    client: Any,
    tg: TelegramSandbox,
    account: Bot,
    editor: User,
    reader: User,
    tg_config: Callable[..., Config],
) -> None:
    owner = tg.control.create_user("Olga")
    channel = tg.control.create_chat("channel", "News", username="newsch", creator=owner.id)
    tg.control.add_bot(channel.id, account)
    config = tg_config(
        topics=[{"slug": "ukraine", "title": "War in Ukraine", "hashtag": "#Ukraine",
                 "pin_breaking": True}],
    )  # fmt: skip
    # A channel the config subscribes, with no command.
    channels = (ChannelConfig(Destination("telegram", str(channel.id)), ("ukraine",)),)
    config = replace(config, channels=channels)
    adapter = TelegramAdapter(config, poll_timeout=1.0, progress_interval=0.05)
    stop = asyncio.Event()
    async with Relay(config, adapters=[adapter]) as relay:
        task = asyncio.create_task(relay.run(stop))
        try:
            tg.control.send_message(reader.id, "/subscribe ukraine", bot=account)
            await wait_for(tg, reader.id, lambda ms: ms[-1].content.startswith("Subscribed"))
            tg.control.send_message(
                editor.id, "/post ukraine --breaking Kyiv: air raid alert\nSirens.", bot=account
            )

            def copy(ms: list[DisplayedMessage]) -> bool:
                return any(m.content.startswith("🔴 BREAKING\nKyiv") for m in ms)

            shown = await wait_for(tg, reader.id, copy, bot=account)
            mine = next(m for m in shown if m.text and m.text.startswith("🔴"))
            assert mine.text == "🔴 BREAKING\nKyiv: air raid alert\nBy Eda\n\nSirens.\n\n#Ukraine"
            in_channel = await wait_for(tg, channel.id, copy)
            post = next(m for m in in_channel if m.text and m.text.startswith("🔴"))
            assert post.disable_notification is False  # breaking: loud
            await wait_for(
                tg,
                channel.id,
                lambda ms: [m.message_id for m in ms if m.pinned] == [post.message_id],
            )

            def progress(ms: list[DisplayedMessage]) -> bool:
                return ms[-1].content.endswith("delivered 2 / 2 · 0 failed (done)")

            done = await wait_for(tg, editor.id, progress, bot=account)
            assert done[-1].content.startswith("Published update ")
        finally:
            stop.set()
            await task


async def test_a_migrated_group_is_rekeyed_and_the_update_resent(
    client: Any, tg: TelegramSandbox, account: Bot, tg_config: Callable[..., Config]
) -> None:
    owner = tg.control.create_user("Olga")
    group = tg.control.create_chat("group", "Readers", creator=owner.id)
    tg.control.add_bot(group.id, account)
    config = tg_config()
    adapter = TelegramAdapter(config)
    await adapter.start(AdapterContext())
    try:
        pipeline = Pipeline(client, config, adapters=[adapter])
        await pipeline.subs.subscribe(Destination("telegram", str(group.id)), ["ukraine"])
        new = tg.control.migrate(group.id)
        await pipeline.ingest.publish(Update(id="m1", topic="ukraine", headline="Moved"))
        await pipeline.drain()
        assert [m.content for m in tg.control.transcript(new.id) if not m.service] == [
            "Moved\n\n#Ukraine"
        ]
        assert await pipeline.subs.topics(Destination("telegram", str(new.id))) == ["ukraine"]
        assert await pipeline.subs.topics(Destination("telegram", str(group.id))) == []
    finally:
        await adapter.aclose()


async def test_a_kicked_bot_unsubscribes_the_chat(
    client: Any, tg: TelegramSandbox, account: Bot, reader: User, tg_config: Callable[..., Config]
) -> None:
    owner = tg.control.create_user("Olga")
    channel = tg.control.create_chat("channel", "News", creator=owner.id)
    tg.control.add_bot(channel.id, account)
    config = tg_config()
    adapter = TelegramAdapter(config)
    await adapter.start(AdapterContext())
    try:
        pipeline = Pipeline(client, config, adapters=[adapter])
        gone, stays = (
            Destination("telegram", str(channel.id)),
            Destination("telegram", str(reader.id)),
        )
        await pipeline.subs.subscribe(gone, ["ukraine"])
        await pipeline.subs.subscribe(stays, ["ukraine"])
        tg.control.kick_bot(channel.id, account)
        await pipeline.ingest.publish(Update(id="k1", topic="ukraine", headline="Still here"))
        await pipeline.drain()
        assert await pipeline.subs.topics(gone) == []
        assert tg.control.transcript(reader.id)[-1].content == "Still here\n\n#Ukraine"
    finally:
        await adapter.aclose()


@pytest.mark.pace
async def test_the_relays_budgets_keep_under_telegrams_flood_limits(
    client: Any, tg: TelegramSandbox, account: Bot, reader: User, tg_config: Callable[..., Config]
) -> None:
    # The sandbox enforces Telegram's limits (1/s per private chat, bursts of 3); the relay's
    # own budgets for this adapter are the same numbers, so every update arrives.
    tg.control.set_limits(TelegramLimits())
    config = tg_config()
    adapter = TelegramAdapter(config)
    await adapter.start(AdapterContext())
    try:
        pipeline = Pipeline(client, config, adapters=[adapter])
        await pipeline.subs.subscribe(Destination("telegram", str(reader.id)), ["ukraine"])
        for i in range(5):
            await pipeline.ingest.publish(Update(id=f"f{i}", topic="ukraine", headline=f"N{i}"))
        await pipeline.drain()
        shown = [m.content for m in tg.control.transcript(reader.id)][1:]
        assert sorted(shown) == [f"N{i}\n\n#Ukraine" for i in range(5)]
        refused = [r for r in tg.control.requests("sendMessage") if r.status == 429]
        # Without the budgets two of the five would be refused; network jitter between the
        # relay's clock and the sandbox's may cost one retry at most.
        assert len(refused) <= 1
    finally:
        await adapter.aclose()
