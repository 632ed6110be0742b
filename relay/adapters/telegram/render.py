"""An update as Telegram messages (HTML parse mode), split to Telegram's limits. Pure.

Layout: a breaking marker, the headline in bold, the author's byline (in italics), the body,
the photo's caption and credit line (in italics), a "Read more" link and the topic's hashtag,
blocks separated by blank lines. With a photo, everything goes in the photo's caption if it fits
1,024 characters; otherwise the photo carries the headline and its caption, and the rest follows
as text. Text over 4,096 characters is split on paragraphs, then sentences, then words (a
character cut only as a last resort), and every part of a split update ends with a part marker
"(2/3)". Lengths are counted in code points of the visible text, as Telegram counts them; the
raw HTML is also kept under the Bot API's 32,768-byte limit (long link targets count there).
A part also carries at most 100 formatting entities (each bold, italic, link or quote is one):
Telegram drops every entity after the 100th, so a body with more links is split into more
parts rather than shown with its later links dead.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from dataclasses import dataclass, replace
from functools import lru_cache

from relay.adapters.telegram.markdown import (
    Block,
    Run,
    block_html,
    cut_runs,
    links,
    parse_body,
    strip_runs,
)
from relay.adapters.text import byline, credit_line
from relay.config import TopicConfig
from relay.labels import DEFAULT, Labels, Template
from relay.model import Update

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_HTML_BYTES = 32768 - 1024  # the raw limit, with room for the part marker
MAX_ENTITIES = 100  # Telegram keeps the first 100 entities of a message and drops the rest
_MARKER_ROOM = len("\n\n(99/99)")
_SENTENCE = re.compile(r"[.!?…。！？]+[\"'”’»)\]]*(\s+)")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class TelegramMessage:
    """One Telegram message: HTML text, or a photo with `html` as its caption.

    `preview_url` is the link whose preview is shown; None turns link previews off.
    """

    html: str
    photo: str | None = None
    preview_url: str | None = None
    links: tuple[str, ...] = ()

    @property
    def is_photo(self) -> bool:
        return self.photo is not None


def render(update: Update, topic: TopicConfig) -> tuple[TelegramMessage, ...]:
    """The messages for `update`, in order; each one within Telegram's limits."""
    header = _header(update, topic.template)
    body = parse_body(update.body)
    footer = _footer(update, topic)
    labels = topic.template.labels
    image = update.image
    parts: list[list[Block]]
    photo_parts = 0
    if image is None:
        parts = pack([*header, *body, *footer], MAX_TEXT)
    else:
        whole = [*header, *_image_blocks(image.caption, image.credit, labels), *body, *footer]
        parts = pack(whole, MAX_CAPTION)
        photo_parts = 1
        if len(parts) > 1:
            caption, rest = _short_caption(header, image.caption, image.credit, labels)
            parts = [caption, *pack([*rest, *body, *footer], MAX_TEXT)]
    messages = [_message(p, i, len(parts), i < photo_parts) for i, p in enumerate(parts)]
    messages = _previews(messages, update, topic, body)
    if photo_parts:
        assert image is not None
        messages[0] = replace(messages[0], photo=image.url, preview_url=None)
    return tuple(messages)


@lru_cache(maxsize=256)
def render_cached(update: Update, topic: TopicConfig) -> tuple[TelegramMessage, ...]:
    """`render`, remembered: the sender renders an update once per destination (to count its
    parts) and the adapter again to send it; and every destination of an update has the same
    messages. A new revision is a different `Update`, so an edit renders anew."""
    return render(update, topic)


def _header(update: Update, template: Template) -> list[Block]:
    blocks = [Block((Run(update.headline, bold=True),), glue="\n")]
    if update.breaking:
        blocks.insert(0, Block((Run(template.labels.breaking, bold=True),), glue="\n"))
    if template.header:
        blocks.insert(0, Block((Run(template.header),)))
    if by := byline(update.author, template.labels):
        blocks.append(Block((Run(by, italic=True),), glue="\n"))
    return blocks


def _image_blocks(caption: str, credit: str, labels: Labels = DEFAULT.labels) -> list[Block]:
    runs: list[Run] = []
    if caption.strip():
        runs.append(Run(caption.strip()))
    if credit.strip():
        if runs:
            runs.append(Run("\n"))
        runs.append(Run(credit_line(credit, labels), italic=True))
    return [Block(tuple(runs))] if runs else []


def _footer(update: Update, topic: TopicConfig) -> list[Block]:
    blocks = parse_body(topic.template.footer) if topic.template.footer else []
    if update.link:
        blocks.append(Block((Run(topic.template.labels.read_more, href=update.link),)))
    if topic.hashtag.strip():
        blocks.append(Block((Run(topic.hashtag.strip()),)))
    return blocks


def _short_caption(
    header: list[Block], caption: str, credit: str, labels: Labels
) -> tuple[list[Block], list[Block]]:
    """The photo's caption (headline, a shortened caption, credit); what it leaves out."""
    full = _image_blocks(caption, credit, labels)
    if len(pack([*header, *full], MAX_CAPTION)) == 1:
        return [*header, *full], []
    fixed = sum(_length(b) for b in [*header, *_image_blocks("", credit, labels)])
    room = MAX_CAPTION - _MARKER_ROOM - fixed - len("\n\n…\n")
    short = _SPACE.sub(" ", caption.strip())[: max(room, 0)]
    if " " in short[len(short) // 2 :]:
        short = short.rsplit(" ", 1)[0]
    # The whole caption follows as text, so nothing the editor wrote is lost.
    return [*header, *_image_blocks(short + "…", credit, labels)], [Block((Run(caption.strip()),))]


def _message(blocks: list[Block], index: int, total: int, photo: bool) -> TelegramMessage:
    html = "".join((b.glue if i else "") + block_html(b) for i, b in enumerate(blocks))
    if total > 1:
        html += f"\n\n({index + 1}/{total})"
    hrefs = tuple(r.href for b in blocks for r in b.runs if r.href is not None)
    return TelegramMessage(html, links=() if photo else hrefs)


def _previews(
    messages: list[TelegramMessage], update: Update, topic: TopicConfig, body: list[Block]
) -> list[TelegramMessage]:
    """Previews: "auto" shows one for a lone Read-more link, "on" always, "off" never."""
    mode = topic.link_previews
    if mode == "off" or (mode == "auto" and (not update.link or links(body) > 0)):
        return messages
    out = []
    for m in messages:
        url = update.link if update.link in m.links else (m.links[0] if m.links else None)
        out.append(replace(m, preview_url=url))
    return out


def _length(block: Block, first: bool = False) -> int:
    return (0 if first else len(block.glue)) + len(block.text)


def _bytes(block: Block, first: bool = False) -> int:
    return (0 if first else len(block.glue)) + len(block_html(block).encode("utf-8"))


def _entities(block: Block) -> int:
    """The entities Telegram makes of the block's HTML: one per style of each run, one per quote.

    An upper bound: Telegram may merge adjacent runs of one style into one entity.
    """
    styles = sum(r.bold + r.italic + (r.href is not None) for r in block.runs if r.text)
    return styles + (1 if block.quote and block.text else 0)


@dataclass(frozen=True)
class _Room:
    """What a part has left: characters, raw HTML bytes and entities."""

    chars: int
    bytes: int
    entities: int = MAX_ENTITIES

    def takes(self, block: Block, first: bool) -> _Room | None:
        """The room left once `block` is added, or None if it does not fit."""
        left = _Room(self.chars - _length(block, first), self.bytes - _bytes(block, first),
                     self.entities - _entities(block))  # fmt: skip
        return left if min(left.chars, left.bytes, left.entities) >= 0 else None


def pack(blocks: list[Block], limit: int) -> list[list[Block]]:
    """Blocks grouped into parts of at most `limit` characters, splitting blocks that cannot fit.

    A block that fits a part of its own starts a new part rather than being split; a longer
    one fills the rest of the current part and goes on in the next.
    """
    empty = _Room(limit - _MARKER_ROOM, MAX_HTML_BYTES)
    parts: list[list[Block]] = []
    current: list[Block] = []
    room = empty
    queue = deque(blocks)
    while queue:
        block = queue.popleft()
        if not block.runs:
            continue
        first = not current
        left = room.takes(block, first)
        if left is not None:
            current.append(block)
            room = left
            continue
        alone = empty.takes(block, True) is not None
        glue = 0 if first else len(block.glue)
        free = replace(room, chars=room.chars - glue, bytes=room.bytes - glue)
        cut = None if alone or free.chars < empty.chars // 4 else split_block(block, free)
        if cut is None and current:  # go on in a fresh part
            parts.append(current)
            current, room = [], empty
            queue.appendleft(block)
            continue
        if cut is None:
            cut = split_block(block, empty)
            assert cut is not None, "one character always fits an empty part"
        parts.append([*current, cut[0]])
        current, room = [], empty
        queue.appendleft(cut[1])
    if current:
        parts.append(current)
    return parts or [[]]


def split_block(block: Block, room: _Room) -> tuple[Block, Block] | None:
    """The longest head of `block` fitting the room (cut at a sentence, else a word) and the
    rest; None if not even one character fits."""
    text = block.text

    def fits(end: int) -> bool:
        head = replace(block, runs=strip_runs(cut_runs(block.runs, end)[0]))
        return room.takes(head, True) is not None

    if not fits(1):
        return None
    low, high = 1, len(text)  # the largest end that fits, by bisection (costs grow with end)
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    limit = low
    in_link = _link_spans(block.runs)
    cut = None
    for pattern in (_SENTENCE, _SPACE):
        for match in pattern.finditer(text, 0, limit + 1):
            span = match.span(match.lastindex or 0)
            if 0 < span[0] <= limit and not any(a < span[0] < b for a, b in in_link):
                cut = span
        if cut is not None:
            break
    start, resume = cut if cut is not None else (limit, limit)
    head = strip_runs(cut_runs(block.runs, start)[0])
    tail = strip_runs(cut_runs(block.runs, resume)[1])
    if not head:  # only whitespace before the cut: cut characters instead
        head, tail = cut_runs(block.runs, limit)
    return replace(block, runs=head), replace(block, runs=tail, glue="\n\n")


def _link_spans(runs: tuple[Run, ...]) -> list[tuple[int, int]]:
    spans, at = [], 0
    for run in runs:
        if run.href is not None:
            spans.append((at, at + len(run.text)))
        at += len(run.text)
    return spans
