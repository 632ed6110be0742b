"""Bad input as raw stream entries (XADD around ingest): each is a dead letter with its reason.

Every case is written straight into the updates stream of a relay that has already delivered
one update. After the fan-out, the entry is acknowledged, the dead-letter stream holds it with
the reason, every other key is exactly as it was, and the relay still delivers a good update.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from relay.config import Config
from relay.dead_letters import list_dead_letters
from relay.model import Destination, Update

from ..helpers import KEYS, Pipeline
from .snapshot import snapshot

A = Destination("memory", "a")
STREAMS = {KEYS.updates.encode(), KEYS.dead_letters.encode()}  # where a bad entry may go


def _update(ensure_ascii: bool = True, **fields: Any) -> str:
    base = {"id": "x1", "topic": "ukraine", "headline": "h", "revision": 1}
    return json.dumps({**base, **fields}, ensure_ascii=ensure_ascii)


# (name, stream entry fields, a part of the dead letter's reason)
CASES: list[tuple[str, dict[Any, Any], str]] = [
    ("value not UTF-8", {"update": b"\xff"}, "field 'update' is not UTF-8"),
    ("field name not UTF-8", {b"\xff": b"{}"}, "a field name is not UTF-8: '\\\\xff'"),
    (
        "field name not UTF-8 beside a good update",
        {"update": _update(), b"\xfe": b"x"},
        "a field name is not UTF-8",
    ),
    ("overlong UTF-8 encoding of '/'", {"update": b"\xc0\xaf"}, "is not UTF-8"),
    ("UTF-8-encoded lone surrogate (CESU)", {"update": b"\xed\xa0\x80"}, "is not UTF-8"),
    ("UTF-16 JSON", {"update": _update().encode("utf-16")}, "is not UTF-8"),
    (
        "Latin-1 headline",
        {"update": _update(headline="caf\xe9", ensure_ascii=False).encode("latin-1")},
        "is not UTF-8",
    ),
    ("arrays nested 100,000 deep", {"update": "[" * 100_000 + "]" * 100_000}, "nested too deeply"),
    (
        "objects nested 100,000 deep",
        {"update": '{"a":' * 100_000 + "1" + "}" * 100_000},
        "nested too deeply",
    ),
    ("not JSON", {"update": "{not json"}, "unparseable update: update: not valid JSON"),
    ("truncated JSON", {"update": _update()[:-1]}, "not valid JSON"),
    ("a NUL byte", {"update": "\x00"}, "not valid JSON"),
    ("a byte order mark", {"update": "\ufeff" + _update()}, "not valid JSON"),
    (
        "an integer over 4,300 digits",
        {"update": _update()[:-1] + ', "author": ' + "9" * 5000 + "}"},
        "not valid JSON",
    ),
    ("empty update", {"update": ""}, "entry has no 'update' field"),
    ("no update field", {"something": "else"}, "entry has no 'update' field"),
    (
        "an unexpected field",
        {"update": _update(), "extra": "x"},
        "entry has unexpected fields: 'extra'",
    ),
    ("a JSON array", {"update": "[]"}, "update: must be a JSON object"),
    ("JSON null", {"update": "null"}, "update: must be a JSON object"),
    ("a JSON string", {"update": '"publish"'}, "update: must be a JSON object"),
    ("an unknown JSON field", {"update": _update(colour="red")}, "colour: unknown field"),
    ("no id", {"update": json.dumps({"topic": "ukraine", "headline": "h"})}, "id: "),
    ("id '..'", {"update": _update(id="..")}, "id: "),
    ("id with a path", {"update": _update(id="../etc")}, "id: "),
    ("id as a number", {"update": _update(id=7)}, "id: must be a string"),
    ("unconfigured topic", {"update": _update(topic="sport")}, "topic 'sport' is not configured"),
    ("topic as a list", {"update": _update(topic=["ukraine"])}, "topic: "),
    (
        "lone surrogate escaped in JSON",
        {"update": _update()[:-1] + ', "body": "\\ud800"}'},
        "body: must be valid Unicode",
    ),
    ("breaking 'yes'", {"update": _update(breaking="yes")}, "breaking: must be true or false"),
    ("breaking null", {"update": _update(breaking=None)}, "breaking: must be true or false"),
    ("author as a list", {"update": _update(author=["a"])}, "author: "),
    ("revision 0", {"update": _update(revision=0)}, "revision: "),
    ("revision as text", {"update": _update(revision="1")}, "revision: must be an integer"),
    ("revision NaN", {"update": _update()[:-1] + ', "revision": NaN}'}, "revision: "),
    ("unknown action", {"update": _update(action="purge")}, "action: must be one of"),
    ("image as a string", {"update": _update(image="https://example.org/p.jpg")}, "image: "),
    (
        "image with an unknown key",
        {"update": _update(image={"url": "https://e.org/p.jpg", "x": 1})},
        "image.x: unknown field",
    ),
    ("link that is no URL", {"update": _update(link="javascript:alert(1)")}, "link: "),
    ("published_at garbage", {"update": _update(published_at="yesterday")}, "published_at: "),
    ("headline of 100,000 characters", {"update": _update(headline="x" * 100_000)}, "headline: "),
]


@pytest.fixture
async def world(client: aioredis.Redis, config: Config) -> Pipeline:
    """A relay that delivered update `B` to `memory:a`: state a bad entry must not touch."""
    world = Pipeline(client, config)
    await world.subs.subscribe(A, ["ukraine"])
    await world.ingest.publish(Update("B", "ukraine", headline="Already delivered"))
    await world.drain()
    return world


@pytest.mark.parametrize(("fields", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_a_bad_stream_entry_is_a_dead_letter_and_changes_nothing(
    world: Pipeline, client: aioredis.Redis, fields: dict[Any, Any], reason: str
) -> None:
    before = {k: v for k, v in (await snapshot(client)).items() if k not in STREAMS}
    entry_id = (await client.xadd(KEYS.updates, fields)).decode()
    await world.fan_out()
    [letter] = await list_dead_letters(client, KEYS)
    assert letter.source_id == entry_id
    assert reason in letter.reason, letter.reason
    assert await world.dispatcher.stream.pending_count() == 0
    after = {k: v for k, v in (await snapshot(client)).items() if k not in STREAMS}
    assert after == before
    # Still serving: the next good update goes out.
    await world.ingest.publish(Update("C", "ukraine", headline="Still serving"))
    await world.drain()
    assert [c.update_id for c in world.memory.calls if c.op == "send"] == ["B", "C"]
