"""A chat's settings reach Telegram's parameters: in full copies, in edits and in digests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapter import AdapterContext
from relay.adapters.telegram import TelegramAdapter
from relay.changes import Changes
from relay.chat_settings import TopicSettings
from relay.config import Config
from relay.model import Destination, Update
from tests.helpers import Pipeline


async def test_silent_and_previews_apply_to_copies_edits_and_digests(
    client: Any, tg: TelegramSandbox, account: Bot, reader: User, tg_config: Callable[..., Config]
) -> None:
    config = tg_config(dispatcher={"digest_threshold": 3})
    adapter = TelegramAdapter(config)
    await adapter.start(AdapterContext())
    try:
        world = Pipeline(client, config, adapters=[adapter])
        dest = Destination("telegram", str(reader.id))
        await world.subs.subscribe(dest, ["ukraine"])
        await world.subs.settings.set(dest, "ukraine", TopicSettings(silent="on", previews="off"))
        await world.ingest.publish(Update("s1", "ukraine", headline="One",
                                          link="https://example.org/1"))  # fmt: skip
        await world.drain()
        await world.ingest.edit("s1", Changes(headline="One, corrected"))
        for i in range(2, 8):
            await world.ingest.publish(Update(f"s{i}", "ukraine", headline=f"N{i}"))
        await world.drain()
        calls = [r for r in tg.control.requests() if r.status == 200 and
                 r.method in ("sendMessage", "editMessageText")]  # fmt: skip
        sends = [r.params for r in calls if r.method == "sendMessage"]
        [edit] = [r.params for r in calls if r.method == "editMessageText"]
        assert [("more updates" in p["text"]) for p in sends] == [False, True, False]
        assert all(p.get("disable_notification") == "true" for p in sends), sends
        assert all(p["link_preview_options"] == '{"is_disabled": true}' for p in sends)
        assert edit["link_preview_options"] == '{"is_disabled": true}'
    finally:
        await adapter.aclose()
