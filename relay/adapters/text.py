"""A plain-text rendering of an update, shared by the console and memory adapters."""

from __future__ import annotations

from relay import markup
from relay.config import TopicConfig
from relay.model import Update


def plain_text(update: Update, topic: TopicConfig) -> str:
    """How an update reads with no formatting at all (the console's dry-run output): the body as
    `relay.markup` reads it, quotes marked "> ", link targets after their labels."""
    lines = []
    headline = f"BREAKING: {update.headline}" if update.breaking else update.headline
    lines.append(f"[{topic.title}] {headline}")
    body = markup.plain_text(markup.parse(update.body), annotate=True)
    if body:
        lines.extend(["", body])
    if update.image is not None:
        credit = f" ({update.image.credit})" if update.image.credit else ""
        caption = f" {update.image.caption}" if update.image.caption else ""
        lines.extend(["", f"Photo: {update.image.url}{caption}{credit}"])
    if update.link:
        lines.extend(["", f"Read more: {update.link}"])
    if topic.hashtag:
        lines.extend(["", topic.hashtag])
    return "\n".join(lines)
