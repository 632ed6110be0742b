"""Render once per revision: the sender counts an update's parts with `render` and the adapter
sends them, and both get the one rendering; an edit (a new revision) is rendered anew."""

from __future__ import annotations

from typing import Any

from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.telegram import TelegramAdapter
from relay.adapters.telegram.render import render_cached
from relay.changes import Changes
from relay.model import Destination, Update
from tests.adapters.telegram.conftest import texts
from tests.helpers import Pipeline


async def test_a_send_renders_once_and_an_edit_renders_anew(
    client: Any, tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    pipeline = Pipeline(client, adapter.config, adapters=[adapter])
    await pipeline.subs.subscribe(Destination("telegram", str(reader.id)), ["ukraine"])
    render_cached.cache_clear()

    await pipeline.ingest.publish(Update("u1", "ukraine", headline="Sirens in Kyiv"))
    await pipeline.drain()
    assert texts(tg, reader.id, account)[-1].startswith("Sirens in Kyiv")
    sent = render_cached.cache_info()
    assert sent.misses == 1  # rendered once…
    assert sent.hits >= 1  # …and the second ask (count, then send) was the same rendering

    await pipeline.ingest.edit("u1", Changes(headline="Sirens over Kyiv"))
    await pipeline.drain()
    assert texts(tg, reader.id, account)[-1].startswith("Sirens over Kyiv")
    assert render_cached.cache_info().misses == 2  # revision 2: its own rendering
