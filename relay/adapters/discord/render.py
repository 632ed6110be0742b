"""An update as Discord message payloads: embeds within Discord's limits, mentions explicit.

Pure. The first embed carries the topic (author), the headline (title) linked to `link`, the
photo, the byline, the photo's caption and credit (footer), the time and the topic's colour; a
long body continues in further embeds (no `url`, so Discord never merges them into one gallery
card) and further messages, each message within 10 embeds and 6,000 characters of embed text.
Every URL in an embed is `relay.links.canonical_url`'s: percent-encoded, the host in IDNA, as
Discord's `format: uri` requires (one it cannot link is left out). `allowed_mentions` is always
`{"parse": []}`: a breaking-news role belongs to one guild, so delivery adds it per channel
(`with_role`). A photo from the media store is shown from the message's own attachment
(`attachment://<file name>`), which delivery uploads with the first message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from relay.adapters.discord.markdown import MIN_CAP, Chunker, escape_headline
from relay.adapters.text import byline, credit_line
from relay.config import TopicConfig
from relay.labels import with_footer
from relay.links import canonical_url
from relay.media import file_name, stored_id
from relay.model import Update

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBEDS_PER_MESSAGE = 10
EMBED_TEXT_MAX = 6000
SUPPRESS_NOTIFICATIONS = 1 << 12
NO_MENTIONS: dict[str, Any] = {"parse": []}

Payload = dict[str, Any]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _footer(update: Update, topic: TopicConfig) -> str:
    labels = topic.template.labels
    parts = [byline(update.author, labels)]
    if update.image is not None:
        parts += [update.image.caption.strip(), credit_line(update.image.credit, labels)]
    if topic.hashtag:
        parts.append(topic.hashtag)
    return _cut(" · ".join(p for p in parts if p), FOOTER_MAX)


def picture(url: str) -> str | None:
    """The embed's image URL: a stored photo is the message's attachment (`relay.media`). A
    host under `.invalid` (reserved, never resolves: a Telegram file id an update carried
    before the media store) would show a broken picture, so it is left out."""
    if stored_id(url) is not None:
        return "attachment://" + file_name(url)
    host = urlsplit(url).hostname or ""
    return None if host.endswith(".invalid") else canonical_url(url)


def first_embed(update: Update, topic: TopicConfig) -> tuple[Payload, str]:
    """The headline embed without its description, and the headline text the body must lead
    with when the escaped headline does not fit the title."""
    name = topic.template.header or topic.title
    author = f"{topic.template.labels.breaking} · {name}" if update.breaking else name
    embed: Payload = {
        "author": {"name": _cut(author, AUTHOR_MAX)},
        "color": topic.color,
        "timestamp": update.published_at.isoformat(),
    }
    lead = ""
    title = escape_headline(update.headline)
    if len(title) > TITLE_MAX:  # heavy escaping: a shortened title; the body leads with it all
        lead, cut = f"**{title}**", update.headline
        while len(escape_headline(cut)) > TITLE_MAX - 1:
            cut = cut[: -max(1, (len(escape_headline(cut)) - TITLE_MAX) // 2)]
        title = escape_headline(cut.rstrip()) + "…"
    embed["title"] = title
    url = canonical_url(update.link) if update.link else None
    if url:
        embed["url"] = url
    image = picture(update.image.url) if update.image is not None else None
    if image:
        embed["image"] = {"url": image}
    footer = _footer(update, topic)
    if footer:
        embed["footer"] = {"text": footer}
    return embed, lead


def embed_text(embed: Payload) -> int:
    """The characters Discord counts towards the 6,000 per message."""
    total = len(str(embed.get("title") or "").strip())
    total += len(str(embed.get("description") or "").strip())
    total += len(str((embed.get("footer") or {}).get("text") or "").strip())
    total += len(str((embed.get("author") or {}).get("name") or "").strip())
    return total


def render(update: Update, topic: TopicConfig) -> list[Payload]:
    """The messages for `update`, in order; each a Create Message body (without nonce)."""
    embed, lead = first_embed(update, topic)
    chunker = Chunker(with_footer(update.body, topic.template))
    used = embed_text(embed)
    if lead or not chunker.empty:
        room = min(DESCRIPTION_MAX, EMBED_TEXT_MAX - used) - len(lead) - 2
        piece = chunker.take(room) if not chunker.empty else ""
        description = f"{lead}\n\n{piece}".strip() if lead else piece
        if description:
            embed["description"] = description
            used += len(description)
    messages: list[list[Payload]] = [[embed]]
    while not chunker.empty:
        room = EMBED_TEXT_MAX - used
        if len(messages[-1]) >= EMBEDS_PER_MESSAGE or room < MIN_CAP:
            messages.append([])
            used, room = 0, EMBED_TEXT_MAX
        piece = chunker.take(min(DESCRIPTION_MAX, room))
        if not piece:  # a link with a long target needs more than this message has left
            messages.append([])
            used, piece = 0, chunker.take(DESCRIPTION_MAX)
            assert piece, "a link target (<= 2,048 characters) always fits an empty embed"
        messages[-1].append({"description": piece, "color": topic.color})
        used += len(piece)
    payloads: list[Payload] = [{"embeds": embeds, "allowed_mentions": NO_MENTIONS}
                               for embeds in messages]  # fmt: skip
    if topic.silent and not update.breaking:  # breaking news always notifies, as on Telegram
        for p in payloads:
            p["flags"] = SUPPRESS_NOTIFICATIONS
    return payloads


def with_role(payloads: tuple[Payload, ...], role: int | None) -> tuple[Payload, ...]:
    """The payloads with the breaking-news `role` mentioned (and allowed) in the first; as they
    are without a role. Never mutates them (they may be `render_cached`'s)."""
    if role is None or not payloads:
        return payloads
    first = {**payloads[0], "content": f"<@&{role}>",
             "allowed_mentions": {"parse": [], "roles": [str(role)]}}  # fmt: skip
    return (first, *payloads[1:])


@lru_cache(maxsize=64)
def render_cached(update: Update, topic: TopicConfig) -> tuple[Payload, ...]:
    """`render`, remembered: the sender renders an update once per destination (for its
    weight) and the adapter again to send it. The payloads are shared: copy, never mutate."""
    return tuple(render(update, topic))
