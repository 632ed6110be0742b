"""A plain-text rendering of an update, shared by the console and memory adapters, and the
words every rendering uses for a photo's credit and an update's author."""

from __future__ import annotations

import re

from relay import markup
from relay.config import TopicConfig
from relay.model import Update

# A credit that already says what it is: "Photo: AP", "Photograph by …", "© Reuters", "Foto: …".
_LABELLED = re.compile(
    r"^\s*(?:©|\(c\)|(?:photo(?:graph)?s?|pictures?|image|illustration|credit|foto)\b\s*"
    r"(?:[:/—–-]|by\b))",
    re.IGNORECASE,
)


def credit_line(credit: str) -> str:
    """A photo's credit as shown: "Photo: AP", unless the credit already says so itself."""
    credit = credit.strip()
    if not credit or _LABELLED.match(credit):
        return credit
    return f"Photo: {credit}"


def byline(author: str) -> str:
    """The author's line ("By Jane Doe"), "" for an update with no author."""
    author = author.strip()
    return f"By {author}" if author else ""


def plain_text(update: Update, topic: TopicConfig) -> str:
    """How an update reads with no formatting at all (the console's dry-run output): the body as
    `relay.markup` reads it, quotes marked "> ", link targets after their labels."""
    lines = []
    headline = f"BREAKING: {update.headline}" if update.breaking else update.headline
    lines.append(f"[{topic.title}] {headline}")
    if update.author.strip():
        lines.append(byline(update.author))
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
