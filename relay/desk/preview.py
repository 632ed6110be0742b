"""An update as each platform would show it, rendered by the running adapters; nothing is sent.

The desk's composer and `relay demo` both preview through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relay import model
from relay.config import Config
from relay.errors import InvalidUpdate

PREVIEWED = ("telegram", "discord")


def renderers(adapters: Sequence[Any]) -> dict[str, Any]:
    """The adapters whose rendering the page can draw (Telegram's and Discord's), by platform."""
    return {a.platform: a for a in adapters if getattr(a, "platform", "") in PREVIEWED}


def render(config: Config, adapters: Sequence[Any], data: Any) -> dict[str, Any]:
    """`data` (an update's JSON, validated as the API does) rendered by each platform."""
    update = model.from_dict(data, generate_id=True)
    topic = config.topic(update.topic)
    if topic is None:
        raise InvalidUpdate("topic", f"not a configured topic: {update.topic!r}")
    out: dict[str, Any] = {"update": model.to_dict(update)}
    for platform, adapter in renderers(adapters).items():
        rendered = adapter.render(update, topic)
        if platform == "telegram":
            out[platform] = [{"html": m.html, "photo": m.photo} for m in rendered]
        else:
            out[platform] = list(rendered)
    return out
