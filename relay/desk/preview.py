"""An update as each platform would show it, rendered by the running adapters; nothing is sent.

The desk's composer and `relay demo` both preview through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relay import model
from relay.config import Config
from relay.errors import InvalidUpdate
from relay.media import file_name, stored_id

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


def stored_photos_from(shown: dict[str, Any], media_path: str) -> dict[str, Any]:
    """`shown` (what `render` gave) with a stored photo (`relay.media`: no public URL; Telegram
    gets it as an upload, Discord as the message's attachment) drawn from `media_path` + id."""
    image = shown["update"].get("image") or {}
    mid = stored_id(image.get("url") or "")
    if mid is None:
        return shown
    names = {image["url"], "attachment://" + file_name(image["url"])}
    local = media_path + mid
    for message in shown.get("telegram", []):
        if message.get("photo") in names:
            message["photo"] = local
    for message in shown.get("discord", []):
        for embed in message.get("embeds", []):
            if (embed.get("image") or {}).get("url") in names:
                embed["image"] = {**embed["image"], "url": local}
    return shown
