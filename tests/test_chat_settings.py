"""Per-chat settings: stored per destination and topic, kept on a move, obeyed by the sender."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from relay.changes import Changes
from relay.chat_settings import TopicSettings
from relay.config import Config, TopicConfig
from relay.model import Destination, Update

from .conftest import BACKINGS
from .helpers import KEYS, Pipeline

A, B = Destination("memory", "a"), Destination("memory", "b")
GROUP, SUPER = Destination("telegram", "-5"), Destination("telegram", "-1005")


@pytest.fixture(params=BACKINGS)
def backing(request: pytest.FixtureRequest) -> str:
    """Every test here runs on the single server, and on the cluster with `-m cluster`."""
    return str(request.param)


def test_toggles_cycle_and_only_what_differs_is_stored() -> None:
    s = TopicSettings()
    assert s.encode() is None
    assert [s.toggled("silent").silent, s.toggled("silent").toggled("silent").silent] == [
        "on",
        "off",
    ]
    assert s.toggled("silent").toggled("silent").toggled("silent") == s
    assert s.toggled("breaking_only").breaking_only and not s.toggled("digest").digest
    off = TopicSettings(previews="off", digest=False)
    assert off.encode() == '{"digest":false,"previews":"off"}'
    assert TopicSettings.decode(off.encode()) == off
    assert off.describe() == "previews off, digest off"


def test_unreadable_settings_read_as_the_defaults() -> None:
    for raw in (b"\xff", b"[1]", b"not json", b'{"silent": "loud", "digest": "no"}'):
        assert TopicSettings.decode(raw) == TopicSettings()
    assert TopicSettings.decode(b'{"silent": "off", "x": 1}') == TopicSettings(silent="off")


def test_apply_overrides_the_topic_only_where_the_chat_chose() -> None:
    topic = TopicConfig("climate", "Climate", silent=True, link_previews="auto")
    assert TopicSettings().apply(topic) is topic
    loud = TopicSettings(silent="off", previews="on").apply(topic)
    assert (loud.silent, loud.link_previews, loud.slug) == (False, "on", "climate")
    assert TopicSettings(silent="on").apply(TopicConfig("u", "U")).silent


async def test_settings_go_with_their_topic_and_survive_a_move(
    client: aioredis.Redis, config: Config
) -> None:
    world = Pipeline(client, config)
    settings = world.subs.settings
    await world.subs.subscribe(GROUP, ["ukraine", "climate"], "second")
    await settings.set(GROUP, "ukraine", TopicSettings(silent="on"))
    await settings.set(GROUP, "climate", TopicSettings(breaking_only=True))
    await world.subs.move(GROUP, SUPER)
    moved = await settings.get(SUPER)
    assert moved.of("ukraine") == TopicSettings(silent="on")
    assert moved.of("climate") == TopicSettings(breaking_only=True)
    assert (await settings.get(GROUP)).topics == {}
    assert await client.exists(KEYS.chat_settings(str(GROUP))) == 0
    await world.subs.unsubscribe(SUPER, ["ukraine"])  # a topic's settings go with it
    assert set((await settings.get(SUPER)).topics) == {"climate"}
    await settings.set(SUPER, "climate", TopicSettings())  # all defaults: nothing stored
    assert await client.exists(KEYS.chat_settings(str(SUPER))) == 0
    await settings.set(SUPER, "climate", TopicSettings(digest=False))
    await world.subs.unsubscribe(SUPER)  # the last subscription: nothing is left
    assert await client.exists(KEYS.chat_settings(str(SUPER))) == 0


async def test_breaking_only_receives_no_routine_update_nor_its_edits(
    client: aioredis.Redis, config: Config
) -> None:
    world = Pipeline(client, config)
    for dest in (A, B):
        await world.subs.subscribe(dest, ["ukraine"])
    await world.subs.settings.set(B, "ukraine", TopicSettings(breaking_only=True))
    await world.ingest.publish(Update("r1", "ukraine", headline="Routine"))
    await world.ingest.publish(Update("b1", "ukraine", headline="Breaking", breaking=True))
    await world.drain()
    sent = {(c.dest, c.update_id) for c in world.memory.calls if c.op == "send"}
    assert sent == {(A, "r1"), (A, "b1"), (B, "b1")}
    await world.ingest.edit("r1", Changes(headline="Routine, corrected"))
    await world.drain()
    await world.ingest.delete("r1")
    await world.drain()
    touched = [(c.op, c.dest) for c in world.memory.calls[len(sent) :]]
    assert touched == [("edit", A), ("delete", A)]  # B had no copy to change
    await world.ingest.publish(Update("r2", "ukraine", headline="Later routine"))
    await world.ingest.edit("r2", Changes(breaking=True))  # breaking news now: B gets it
    await world.drain()
    assert (B, "r2") in {(c.dest, c.update_id) for c in world.memory.calls if c.op == "send"}


async def test_digest_off_sends_every_update_in_full(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> None:
    world = Pipeline(client, make_config(dispatcher={"digest_threshold": 3}))
    for dest in (A, B):
        await world.subs.subscribe(dest, ["ukraine"])
    await world.subs.settings.set(B, "ukraine", TopicSettings(digest=False))
    for i in range(1, 8):
        await world.ingest.publish(Update(f"u{i}", "ukraine", headline=f"Headline {i}"))
    await world.drain()
    got = {d: [c.update_id for c in world.memory.calls if c.op == "send" and c.dest == d]
           for d in (A, B)}  # fmt: skip
    assert got[A] == ["digest-u1", "u7"]
    assert got[B] == [f"u{i}" for i in range(1, 8)]
