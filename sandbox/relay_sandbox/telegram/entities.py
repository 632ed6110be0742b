"""Bot API message entities: the record, Telegram's order and nesting repair, and back to HTML.

``fix_entities`` is TDLib's: entities that cannot coexist are dropped, and bold, italic,
underline, strikethrough and spoiler are merged when adjacent and cut at every other entity's
edges, which is the list the Bot API answers with.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

logger = logging.getLogger(__name__)

SPLITTABLE = ("bold", "italic", "underline", "strikethrough", "spoiler")
BLOCKQUOTES = frozenset({"blockquote", "expandable_blockquote"})
PRE_TYPES = frozenset({"pre", "code"})

# TDLib MessageEntity::get_type_priority; a pre with a language is TDLib's PreCode (10).
# date_time is newer than the TDLib source we could read: 99 (like custom_emoji) is a guess.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
    "date_time": 99,
}


@dataclass(frozen=True)
class MessageEntity:
    """One Bot API MessageEntity; offset and length in UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None
    user_id: int | None = None  # text_mention: the Bot API sends a whole User, see to_dict
    unix_time: int | None = None
    date_time_format: str | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length

    def to_dict(self) -> dict[str, object]:
        """Bot API JSON; a text_mention's ``user`` has only ``id`` (the emulator adds the rest)."""
        out: dict[str, object] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            out["url"] = self.url
        if self.user_id is not None:
            out["user"] = {"id": self.user_id}
        if self.language is not None:
            out["language"] = self.language
        if self.custom_emoji_id is not None:
            out["custom_emoji_id"] = self.custom_emoji_id
        if self.unix_time is not None:
            out["unix_time"] = self.unix_time
        if self.date_time_format is not None:
            out["date_time_format"] = self.date_time_format
        return out


def code_point_length(text: str) -> int:
    """Length in Unicode code points: the unit of the 4096/1024 limits."""
    return len(text)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units: the unit of entity offsets."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _priority(entity: MessageEntity) -> int:
    if entity.type == "pre" and entity.language:
        return 10
    return _PRIORITY.get(entity.type, 50)


def sort_key(entity: MessageEntity) -> tuple[int, int, int, str]:
    """TDLib's order: by offset, then longer first, then by type priority.

    The last part only makes ties (same span and type) deterministic; TDLib leaves them as
    std::sort does.
    """
    return (entity.offset, -entity.length, _priority(entity), repr(entity))


def sort_entities(entities: Iterable[MessageEntity]) -> list[MessageEntity]:
    return sorted(entities, key=sort_key)


def remove_empty_entities(entities: Sequence[MessageEntity]) -> list[MessageEntity]:
    """Drop what TDLib's remove_empty_entities drops (empty, or a link without a target)."""

    def keep(e: MessageEntity) -> bool:
        if e.length <= 0:
            return False
        if e.type == "text_link":
            return bool(e.url)
        if e.type == "text_mention":
            return e.user_id is not None and 0 < e.user_id < (1 << 40)
        if e.type == "custom_emoji":
            return e.custom_emoji_id not in (None, "0")
        return True

    return [e for e in entities if keep(e)]


def _is_pre(e: MessageEntity) -> bool:
    return e.type in PRE_TYPES


def _is_continuous(e: MessageEntity) -> bool:
    return e.type not in SPLITTABLE and e.type not in BLOCKQUOTES and e.type not in PRE_TYPES


def _are_valid(entities: list[MessageEntity]) -> bool:
    """TDLib's are_entities_valid: properly nested and nothing to merge or split."""
    end_pos = dict.fromkeys(SPLITTABLE, -1)
    stack: list[MessageEntity] = []
    for e in entities:
        while stack and e.offset >= stack[-1].end:
            stack.pop()
        if stack:
            if e.end > stack[-1].end:
                return False
            types = {s.type for s in stack}
            if e.type in types or _is_pre(stack[-1]):
                return False
            if _is_pre(e) and types - BLOCKQUOTES:
                return False
            if (_is_continuous(e) or e.type in BLOCKQUOTES) and any(
                _is_continuous(s) for s in stack
            ):
                return False
            if e.type in BLOCKQUOTES and types & BLOCKQUOTES:
                return False
            if types & set(SPLITTABLE):
                return False
        if e.type in end_pos:
            if end_pos[e.type] >= e.offset:
                return False
            end_pos[e.type] = e.end
        stack.append(e)
    return True


def _remove_intersecting(entities: list[MessageEntity]) -> list[MessageEntity]:
    """Keep an entity only if it starts after every kept one ended (nested ones go too)."""
    kept: list[MessageEntity] = []
    last_end = 0
    for e in entities:
        if e.offset >= last_end:
            kept.append(e)
            last_end = e.end
    return kept


def _remove_intersecting_blockquote(
    entities: list[MessageEntity], quotes: list[MessageEntity]
) -> list[MessageEntity]:
    kept: list[MessageEntity] = []
    qi = 0
    for e in entities:
        while qi < len(quotes) and quotes[qi].end <= e.offset:
            qi += 1
        if qi < len(quotes):
            q = quotes[qi]
            if q.end < e.end or e.offset < q.offset < e.end:
                continue
        kept.append(e)
    return kept


def _split(splittable: list[MessageEntity], others: list[MessageEntity]) -> list[MessageEntity]:
    """TDLib's split_entities: merge same-type runs, cut them at the others' boundaries."""
    begin = dict.fromkeys(SPLITTABLE, 0)
    end = dict.fromkeys(SPLITTABLE, 0)
    result: list[MessageEntity] = []
    it = 0

    def flush(offset: int) -> None:
        for t in SPLITTABLE:
            if end[t] != 0 and begin[t] < offset:
                if end[t] <= offset:
                    result.append(MessageEntity(t, begin[t], end[t] - begin[t]))
                    begin[t] = end[t] = 0
                else:
                    result.append(MessageEntity(t, begin[t], offset - begin[t]))
                    begin[t] = offset

    def add_entities(end_offset: int) -> None:
        nonlocal it
        while it < len(splittable) and splittable[it].offset < end_offset:
            e = splittable[it]
            if e.offset <= end[e.type] and end[e.type] != 0:
                end[e.type] = max(end[e.type], e.end)
            else:
                flush(e.offset)
                begin[e.type], end[e.type] = e.offset, e.end
            it += 1
        flush(end_offset)

    stack: list[MessageEntity] = []

    def add_offset(offset: int) -> None:
        while stack and offset >= stack[-1].end:
            old_size = len(result)
            add_entities(stack[-1].end)
            if _is_pre(stack[-1]):
                del result[old_size:]  # nothing is bold inside code
            stack.pop()
        add_entities(offset)

    for other in others:
        add_offset(other.offset)
        stack.append(other)
    add_offset(1 << 62)
    return sort_entities(result)


def fix_entities(entities: Sequence[MessageEntity]) -> list[MessageEntity]:
    """Repair nesting as TDLib's fix_entities does; input must have no empty entities."""
    ordered = sort_entities(entities)
    if _are_valid(ordered):
        return ordered
    splittable = [e for e in ordered if e.type in SPLITTABLE]
    quotes = [e for e in ordered if e.type in BLOCKQUOTES]
    others = [e for e in ordered if e.type not in SPLITTABLE and e.type not in BLOCKQUOTES]
    continuous = _remove_intersecting(others)  # pre and code count as continuous here
    if quotes:
        quotes = _remove_intersecting(quotes)
        continuous = sort_entities(_remove_intersecting_blockquote(continuous, quotes) + quotes)
    if not splittable:
        return continuous
    pieces = _split(splittable, continuous)
    return sort_entities(continuous + pieces) if continuous else pieces


def _open_tag(e: MessageEntity) -> str:
    simple = {"bold": "b", "italic": "i", "underline": "u", "strikethrough": "s"}
    if e.type in simple:
        return f"<{simple[e.type]}>"
    if e.type == "spoiler":
        return "<tg-spoiler>"
    if e.type == "text_link":
        return f'<a href="{html.escape(e.url or "")}">'
    if e.type == "text_mention":
        return f'<a href="tg://user?id={e.user_id}">'
    if e.type == "code":
        return "<code>"
    if e.type == "pre":
        if e.language:
            return f'<pre><code class="language-{html.escape(e.language)}">'
        return "<pre>"
    if e.type == "blockquote":
        return "<blockquote>"
    if e.type == "expandable_blockquote":
        return "<blockquote expandable>"
    if e.type == "custom_emoji":
        return f'<tg-emoji emoji-id="{html.escape(e.custom_emoji_id or "")}">'
    if e.type == "date_time":
        fmt = html.escape(e.date_time_format or "")
        return f'<tg-time unix="{e.unix_time}" format="{fmt}">'
    return ""  # mention, url, hashtag…: Telegram finds these itself in plain text


def _close_tag(e: MessageEntity) -> str:
    opening = _open_tag(e)
    if e.type == "pre" and e.language:
        return "</code></pre>"
    if not opening:
        return ""
    name = opening[1:].split(">")[0].split(" ")[0]
    return f"</{name}>"


def entities_to_html(text: str, entities: Sequence[MessageEntity]) -> str:
    """Telegram HTML that parse_html turns back into ``text`` and ``entities``.

    Entities that cross each other are closed and reopened around the crossing; types HTML
    cannot express (mention, url, hashtag… which Telegram detects by itself) are left out.
    """
    # UTF-16 offset -> index in text, for every character boundary
    index_of: dict[int, int] = {}
    pos = 0
    for i, c in enumerate(text):
        index_of[pos] = i
        pos += 2 if ord(c) > 0xFFFF else 1
    index_of[pos] = len(text)
    ordered = [e for e in sort_entities(entities) if e.length > 0]
    for e in ordered:
        if e.offset not in index_of or e.end not in index_of:
            raise ValueError(f"entity {e} does not fall on character boundaries of the text")
    starts: dict[int, list[MessageEntity]] = {}
    for e in ordered:
        starts.setdefault(index_of[e.offset], []).append(e)
    out: list[str] = []
    stack: list[tuple[MessageEntity, int]] = []  # with end index
    for i in range(len(text) + 1):
        # close what ends here; reopen what was closed only to get at it
        if any(end == i for _, end in stack):
            reopen: list[tuple[MessageEntity, int]] = []
            while any(end == i for _, end in stack):
                e, end = stack.pop()
                out.append(_close_tag(e))
                if end != i:
                    reopen.append((e, end))
            for e, end in reversed(reopen):
                out.append(_open_tag(e))
                stack.append((e, end))
        for e in starts.get(i, []):
            out.append(_open_tag(e))
            stack.append((e, index_of[e.end]))
        if i < len(text):
            out.append(html.escape(text[i], quote=False))
    return "".join(out)


def shift(entity: MessageEntity, offset: int, length: int) -> MessageEntity:
    """The same entity at another place."""
    return replace(entity, offset=offset, length=length)
