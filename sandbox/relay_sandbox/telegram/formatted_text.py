"""What the Bot API does to a text after parsing: clean, repair entities, trim, check limits.

Re-implements TDLib's ``fix_formatted_text`` (td/telegram/MessageEntity.cpp) with
``clean_input_string`` and ``is_empty_string`` (td/telegram/misc.cpp), minus the automatic
detection of URLs, mentions, hashtags… (``find_entities``), which is not reproduced.

Errors a caller (the emulator) raises, in the Bot API's order:
- raw ``text`` empty (sendMessage/editMessageText): "Bad Request: message text is empty";
- raw text or caption over 32768 UTF-8 bytes: "Bad Request: text is too long" (``check_raw_text``);
- markup errors: "Bad Request: can't parse entities: …" (``EntityParseError``);
- nothing visible left after ``finalize_text``: "Bad Request: text must be non-empty" (a caption
  is allowed to become empty: pass ``allow_empty=True``);
- over 4096 / 1024 code points after all that: ``check_length``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from relay_sandbox.telegram.entities import (
    MessageEntity,
    fix_entities,
    remove_empty_entities,
    shift,
    sort_entities,
)

logger = logging.getLogger(__name__)

MAX_RAW_BYTES = 32768
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MESSAGE_TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: text is too long"
MESSAGE_TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"

# strip_empty_characters: shown as a space (U+202E is kept: strip_rtlo is false by default)
_SPACE_LIKE = frozenset(
    [0x1680, 0x180E, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x2800, 0x3000, 0xFFFC]
)
# ...and what counts as nothing at all once trimmed
_INVISIBLE = frozenset([0x20, 0x0A, *range(0x200B, 0x2010), 0x202E, 0xFEFF, 0x00A0])
_TD_SPACE = " \t\r\n\0\v"  # td::is_space, used by td::trim


class TextError(ValueError):
    """A text the Bot API refuses; the message is TDLib's, e.g. "Text must be non-empty"."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def description(self) -> str:
        """The Bot API description: the first letter lowered, after "Bad Request: "."""
        return "Bad Request: " + self.message[:1].lower() + self.message[1:]


def check_raw_text(text: str) -> str | None:
    """The description for a raw text or caption over 32768 UTF-8 bytes, else None."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_RAW_BYTES:
        return TEXT_TOO_LONG
    return None


def check_length(text: str, *, caption: bool) -> str | None:
    """The description for a finalized text over the limit (in code points), else None."""
    if caption:
        return CAPTION_TOO_LONG if len(text) > MAX_CAPTION_LENGTH else None
    return MESSAGE_TOO_LONG if len(text) > MAX_TEXT_LENGTH else None


def is_empty_string(text: str) -> bool:
    """TDLib's is_empty_string: nothing but spaces, newlines and invisible characters."""
    spaced = "".join(
        " " if ord(c) in _SPACE_LIKE or 0xE0000 <= ord(c) <= 0xE007F else c for c in text
    )
    return all(ord(c) in _INVISIBLE for c in spaced.strip(_TD_SPACE))


def _check_bounds(text: str, entities: Sequence[MessageEntity]) -> None:
    """clean_input_string_with_entities' checks: entities on character boundaries, in the text."""
    boundaries: list[tuple[int, int]] = []  # (UTF-16 offset, UTF-8 byte offset) of each character
    pos16 = pos8 = 0
    for c in text:
        boundaries.append((pos16, pos8))
        pos16 += 2 if ord(c) > 0xFFFF else 1
        pos8 += len(c.encode("utf-8", "surrogatepass"))
    boundaries.append((pos16, pos8))
    stack: list[MessageEntity] = []
    current = 0
    for at16, at8 in boundaries:
        while stack and at16 >= stack[-1].end:
            if at16 != stack[-1].end:
                raise TextError(
                    f"Entity beginning at UTF-16 offset {stack[-1].offset} ends in a middle of a "
                    f"UTF-16 symbol at byte offset {at8}"
                )
            stack.pop()
        while current < len(entities) and at16 >= entities[current].offset:
            if at16 != entities[current].offset:
                raise TextError(
                    f"Entity begins in a middle of a UTF-16 symbol at byte offset {at8}"
                )
            stack.append(entities[current])
            current += 1
    if current < len(entities):
        raise TextError(
            f"Entity begins after the end of the text at UTF-16 offset {entities[current].offset}"
        )
    if stack:
        raise TextError(
            f"Entity beginning at UTF-16 offset {stack[-1].offset} ends after the end of the "
            f"text at UTF-16 offset {stack[-1].end}"
        )


def _clean(text: str, entities: Sequence[MessageEntity]) -> tuple[str, list[MessageEntity]]:
    """clean_input_string(_with_entities): control characters, \\r, separators, marks."""
    _check_bounds(text, entities)
    out: list[str] = []
    new_at: dict[int, int] = {0: 0}  # old UTF-16 offset -> new one, at character boundaries
    old = new = 0
    for c in text:
        cp = ord(c)
        width = 2 if cp > 0xFFFF else 1
        old += width
        if cp == 0x0D or 0x2028 <= cp <= 0x202E or cp in (0x030A, 0x0333, 0x033F):
            pass  # removed: \r, line/paragraph separators and direction overrides, 3 marks
        elif cp <= 0x20 and cp != 0x0A:
            out.append(" ")
            new += 1
        else:
            out.append(c)
            new += width
        new_at[old] = new
    # runs of LRM/RLM: all but the last of a run become ZERO WIDTH NON-JOINER
    for i in range(len(out) - 1):
        if out[i] in "\u200e\u200f" and out[i + 1] in "\u200e\u200f":
            out[i] = "\u200c"
    fixed = [shift(e, new_at[e.offset], new_at[e.end] - new_at[e.offset]) for e in entities]
    return "".join(out), fixed


def finalize_text(
    text: str, entities: Sequence[MessageEntity], *, allow_empty: bool = False
) -> tuple[str, list[MessageEntity]]:
    """The text and entities Telegram stores for a parsed text (TDLib fix_formatted_text).

    Control characters become spaces, ``\\r`` and a few invisible characters go, entities are
    repaired (see ``fix_entities``), then spaces and newlines are trimmed from the end and from
    the start (never from inside the first entity). Raises TextError("Text must be non-empty")
    unless ``allow_empty`` (captions), in which case an empty result is ("", []).
    """
    if entities:
        for e in entities:
            if not 0 <= e.offset <= 1000000:
                raise TextError(f"Receive an entity with incorrect offset {e.offset}")
            if not 0 <= e.length <= 1000000:
                raise TextError(f"Receive an entity with incorrect length {e.length}")
        fixed = fix_entities(remove_empty_entities(entities))
        cleaned, fixed = _clean(text, fixed)
    else:
        cleaned, fixed = _clean(text, [])
    fixed = remove_empty_entities(fixed)

    # end (in UTF-16 units and characters) of the last character that is not ' ' or '\n'
    last_end16 = last_end = -1
    pos16 = 0
    for i, c in enumerate(cleaned):
        pos16 += 2 if ord(c) > 0xFFFF else 1
        if c not in " \n":
            last_end16, last_end = pos16, i + 1
    if last_end < 0:
        if allow_empty:
            return "", []
        raise TextError("Text must be non-empty")
    fixed = fix_entities(fixed)

    cleaned = cleaned[:last_end]
    fixed = [e for e in fixed if e.offset < last_end16]
    fixed = sort_entities(
        shift(e, e.offset, last_end16 - e.offset) if e.end > last_end16 else e for e in fixed
    )
    first_entity = fixed[0].offset if fixed else len(cleaned)
    cut = 0
    while cut < first_entity and cleaned[cut] in " \n":
        cut += 1
    if cut:
        cleaned = cleaned[cut:]
        fixed = [shift(e, e.offset - cut, e.length) for e in fixed]
    if not allow_empty and is_empty_string(cleaned):
        raise TextError("Text must be non-empty")
    return cleaned, fixed
