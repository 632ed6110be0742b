"""Destinations bound to bots: through the bot a chat subscribed to, copies changed by their bot."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from relay.adapter import Fleet
from relay.adapters.memory import MemoryAdapter
from relay.changes import Changes
from relay.config import ChannelConfig, Config
from relay.dead_letters import list_dead_letters
from relay.ledger import Ledger
from relay.model import Destination, Update
from relay.subscriptions import Subscriptions

from .helpers import KEYS, Pipeline

A, B, C, D = (Destination("memory", c) for c in ("a", "b", "c", "d"))


def bot(name: str) -> MemoryAdapter:
    adapter = MemoryAdapter()
    adapter.bot_name, adapter.several_bots = name, True
    return adapter


@pytest.fixture
def subs(client: aioredis.Redis) -> Subscriptions:
    return Subscriptions(client, KEYS)


async def test_the_latest_bot_a_chat_subscribed_through_wins(subs: Subscriptions) -> None:
    assert await subs.bot(A) == ""  # never bound: the platform's first bot serves it
    await subs.subscribe(A, ["ukraine"], "national")
    assert await subs.bot(A) == "national"
    await subs.subscribe(A, ["climate"])  # a subscription by no bot (relay subscribe) keeps it
    assert await subs.bot(A) == "national"
    await subs.subscribe(A, ["ukraine"], "east")
    assert await subs.bot(A) == "east"
    await subs.unsubscribe(A, ["ukraine"])
    assert await subs.bot(A) == "east"  # still subscribed to climate
    await subs.unsubscribe(A)
    assert await subs.bot(A) == ""  # the last topic took the binding with it


async def test_a_moved_chat_keeps_its_bot_and_config_channels_are_bound(
    subs: Subscriptions,
) -> None:
    await subs.subscribe(A, ["ukraine"], "east")
    await subs.move(A, B)
    assert (await subs.bot(A), await subs.bot(B)) == ("", "east")
    channels = [ChannelConfig(C, ("ukraine",), "west"), ChannelConfig(D, ("ukraine",))]
    await subs.sync_config(channels)
    assert (await subs.bot(C), await subs.bot(D)) == ("west", "")
    await subs.subscribe(C, ["climate"], "east")  # a command's binding lasts until next start
    await subs.sync_config(channels)
    assert await subs.bot(C) == "west"


def test_the_fleet_picks_a_platforms_bot_and_its_first_by_default() -> None:
    first, second, console = bot("national"), bot("east"), MemoryAdapter("console")
    fleet = Fleet([first, second, console])
    assert fleet.pick("memory") is first and fleet.pick("memory", "national") is first
    assert fleet.pick("memory", "east") is second and fleet["memory"] is first
    assert fleet.pick("memory", "west") is None and fleet.pick("telegram") is None
    assert fleet.pick("console", "any") is console  # it knows no bots: it serves all
    assert list(fleet) == ["memory", "console"]


async def test_deliveries_go_through_the_bound_bot_and_edits_through_the_sender(
    client: aioredis.Redis, config: Config
) -> None:
    national, east = bot("national"), bot("east")
    world = Pipeline(client, config, [national, east])
    await world.subs.subscribe(A, ["ukraine"], "national")
    await world.subs.subscribe(B, ["ukraine"], "east")
    await world.subs.subscribe(C, ["ukraine"])  # no bot: the first one
    await world.ingest.publish(Update("u1", "ukraine", headline="First"))
    await world.drain()
    assert sorted(c.dest.chat_id for c in national.calls) == ["a", "c"]
    assert [c.dest.chat_id for c in east.calls] == ["b"]
    copies = await Ledger(client, KEYS, 3600).copies("u1")
    assert {d.chat_id: c.bot for d, c in copies.items()} == {
        "a": "national", "b": "east", "c": "national"}  # fmt: skip

    # A now subscribes through east: its next update comes from east, but its copy of u1 can
    # only be edited (and deleted) by national, which sent it.
    await world.subs.subscribe(A, ["ukraine"], "east")
    national.calls.clear()
    east.calls.clear()
    await world.ingest.edit("u1", Changes(headline="First, corrected"))
    await world.ingest.publish(Update("u2", "ukraine", headline="Second"))
    await world.drain()
    assert sorted((c.op, c.dest.chat_id, c.update_id) for c in national.calls) == [
        ("edit", "a", "u1"), ("edit", "c", "u1"), ("send", "c", "u2")]  # fmt: skip
    assert sorted((c.op, c.dest.chat_id, c.update_id) for c in east.calls) == [
        ("edit", "b", "u1"), ("send", "a", "u2"), ("send", "b", "u2")]  # fmt: skip
    await world.ingest.delete("u1")
    await world.drain()
    deleted = sorted(c.dest.chat_id for c in national.calls if c.op == "delete")
    assert deleted == ["a", "c"]


async def test_a_bot_no_longer_configured_dead_letters_and_unsubscribes_nothing(
    client: aioredis.Redis, config: Config
) -> None:
    national = bot("national")
    world = Pipeline(client, config, [national])
    await world.subs.subscribe(A, ["ukraine"], "regional")
    await world.ingest.publish(Update("u1", "ukraine", headline="Where to?"))
    await world.drain()
    assert national.calls == []
    [dead] = await list_dead_letters(client, KEYS)
    assert (dead.destination, dead.reason) == (
        "memory:a",
        "bot 'regional' is not among the memory bots",
    )
    assert await world.subs.topics(A) == ["ukraine"]
