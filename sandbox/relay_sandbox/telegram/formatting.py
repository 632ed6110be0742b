"""Message text and captions as the server stores them: parse_mode, entities and length limits.

Telegram keeps at most 100 entities of a message: the message is accepted and every entity
after the 100th is dropped, its text shown plain (platforms.md §1.2; a message with 110 `<b>`
tags shows the first 100 bold: rubenlagus/TelegramBots issue #854). The sandbox stores what a
reader sees, so it drops them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relay_sandbox.telegram.entities import MessageEntity, entities_to_html
from relay_sandbox.telegram.errors import ApiError, bad_request
from relay_sandbox.telegram.html import TextError, check_length, finalize_text, process_text
from relay_sandbox.telegram.records import Json

MAX_ENTITIES = 100


def formatted(
    text: str | None,
    parse_mode: str | None,
    entities: list[Any] | None,
    *,
    caption: bool,
) -> tuple[str, tuple[Json, ...]]:
    """Plain text and entities for a text (or caption) as the server stores it, or its 400.

    Markdown parse modes are valid on Telegram but not emulated: the relay sends HTML.
    """
    raw = text or ""
    try:
        if parse_mode or not entities:
            plain, parsed = process_text(raw, parse_mode, caption=caption)
        else:
            if not caption and not raw:
                raise TextError("Message text is empty")
            given = to_entities([_entity(e) for e in entities])
            plain, parsed = finalize_text(raw, given, allow_empty=caption)
            too_long = check_length(plain, caption=caption)
            if too_long is not None:
                raise ApiError(400, too_long)
    except TextError as exc:
        raise ApiError(400, exc.description) from exc
    return plain, tuple(e.to_dict() for e in parsed[:MAX_ENTITIES])


def _entity(value: Any) -> Json:
    if not isinstance(value, dict) or not {"type", "offset", "length"} <= value.keys():
        raise bad_request("can't parse entities JSON object")
    return dict(value)


def to_entities(entities: Sequence[Json]) -> list[MessageEntity]:
    """API-form entities as MessageEntity records (for rendering back to HTML)."""
    out = []
    for e in entities:
        user = e.get("user")
        out.append(
            MessageEntity(
                type=str(e["type"]),
                offset=int(e["offset"]),
                length=int(e["length"]),
                url=e.get("url"),
                language=e.get("language"),
                custom_emoji_id=e.get("custom_emoji_id"),
                user_id=user.get("id") if isinstance(user, dict) else None,
            )
        )
    return out


def as_html(text: str | None, entities: Sequence[Json]) -> str | None:
    """Telegram HTML for stored text and entities."""
    if text is None:
        return None
    return entities_to_html(text, to_entities(entities))
