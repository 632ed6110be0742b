"""A plain-text rendering of an update, shared by the console and memory adapters, and the
words every rendering uses for a photo's credit and an update's author."""

from __future__ import annotations

import re

from relay import markup
from relay.config import TopicConfig
from relay.labels import DEFAULT, Labels, with_footer
from relay.model import Update

# A credit that already says what it is: "Photo: AP", "Photograph by …", "© Reuters", "Foto: …".
_LABELLED = re.compile(
    r"^\s*(?:©|\(c\)|(?:photo(?:graph)?s?|pictures?|image|illustration|credit|foto)\b\s*"
    r"(?:[:/—–-]|by\b))",
    re.IGNORECASE,
)


def credit_line(credit: str, labels: Labels = DEFAULT.labels) -> str:
    """A photo's credit as shown: "Photo: AP", unless the credit already says so itself."""
    credit = credit.strip()
    if not credit or _LABELLED.match(credit) or credit.startswith(f"{labels.photo}:"):
        return credit
    return f"{labels.photo}: {credit}"


def byline(author: str, labels: Labels = DEFAULT.labels) -> str:
    """The author's line ("By Jane Doe"), "" for an update with no author."""
    author = author.strip()
    return f"{labels.by} {author}" if author else ""


def plain_text(update: Update, topic: TopicConfig) -> str:
    """How an update reads with no formatting at all (the console's dry-run output): the body as
    `relay.markup` reads it, quotes marked "> ", link targets after their labels."""
    labels = topic.template.labels
    lines = [topic.template.header] if topic.template.header else []
    headline = f"{labels.breaking}: {update.headline}" if update.breaking else update.headline
    lines.append(f"[{topic.title}] {headline}")
    if update.author.strip():
        lines.append(byline(update.author, labels))
    body = markup.plain_text(markup.parse(with_footer(update.body, topic.template)), annotate=True)
    if body:
        lines.extend(["", body])
    if update.image is not None:
        credit = f" ({update.image.credit})" if update.image.credit else ""
        caption = f" {update.image.caption}" if update.image.caption else ""
        lines.extend(["", f"{labels.photo}: {update.image.url}{caption}{credit}"])
    if update.link:
        lines.extend(["", f"{labels.read_more}: {update.link}"])
    if topic.hashtag:
        lines.extend(["", topic.hashtag])
    return "\n".join(lines)
