"""Telegram's ``parse_mode=HTML``: a byte-for-byte re-implementation of TDLib's ``parse_html``.

Reproduced from td/telegram/MessageEntity.cpp (``parse_html``, ``decode_html_entity``; the cases
of TDLib's test/message_entities.cpp pass), links as in ``links.py``:
- the scan works on UTF-8 bytes and every error names a UTF-8 byte offset in the raw input;
- tags: b strong i em u ins s strike del a code pre blockquote tg-spoiler span tg-emoji tg-time
  (names lower-cased, attribute names case-sensitive, unquoted values lower-cased, unknown
  attributes ignored);
- ``&lt; &gt; &amp; &quot;`` and ``&#N;``/``&#xH;`` (``;`` optional) are decoded; any other ``&``
  is literal text, so is ``>``; a stray ``<`` is fatal (``a < b``: unsupported tag "");
- an entity is made only for a non-empty span; ``<a>`` without href links its own text; a
  ``tg://user?id=N`` link is a text_mention (``user_id``); a href that is no valid http(s)/tg/ton
  URL makes no entity, silently; ``<pre><code class="language-x">`` is one pre with a language.
``parse_html`` returns what TDLib's parser returns (sorted, not yet repaired or trimmed);
``finalize_text`` then gives what the chat stores and ``process_text`` runs the whole path.

Not reproduced: automatic url/mention/hashtag/… entities; the rules on who may send custom
emoji; Markdown and MarkdownV2 (the 100-entity cap is applied later, in ``formatting``). Not
verifiable in the TDLib source we could read (newer than it): for ``tg-time``, a bad ``unix``
raises our own "Invalid Unix time specified" ("Invalid date format used" is TDLib's), and
date_time's sort priority is a guess.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from relay_sandbox.telegram.entities import (
    MessageEntity,
    code_point_length,
    entities_to_html,
    sort_entities,
    utf16_length,
)
from relay_sandbox.telegram.formatted_text import (
    TextError,
    check_length,
    check_raw_text,
    finalize_text,
)
from relay_sandbox.telegram.links import check_link, link_user_id, to_integer_safe

logger = logging.getLogger(__name__)

__all__ = [
    "EntityParseError",
    "MessageEntity",
    "TextError",
    "check_length",
    "check_raw_text",
    "code_point_length",
    "entities_to_html",
    "finalize_text",
    "parse_html",
    "process_text",
    "utf16_length",
]

_TAG_LIST = b"a b strong i em s strike del u ins tg-spoiler tg-emoji tg-time span pre code"
ALLOWED_TAGS = frozenset([*_TAG_LIST.split(), b"blockquote"])
_SPACES = frozenset(b" \t\r\n\0\v")  # td::is_space (NUL too: TDLib reads a C string)
_SIMPLE = {
    b"b": "bold",
    b"strong": "bold",
    b"i": "italic",
    b"em": "italic",
    b"u": "underline",
    b"ins": "underline",
    b"s": "strikethrough",
    b"strike": "strikethrough",
    b"del": "strikethrough",
    b"tg-spoiler": "spoiler",
    b"span": "spoiler",
}


class EntityParseError(TextError):
    """Markup Telegram refuses; the message is TDLib's, e.g. 'Unsupported start tag "p"…'."""

    @property
    def description(self) -> str:
        return "Bad Request: can't parse entities: " + self.message


@dataclass
class _Open:
    tag: bytes
    offset: int  # UTF-16 offset where the entity starts
    begin: int  # index in the output bytes where it starts
    argument: str = ""
    extra: dict[bytes, str] = field(default_factory=dict)


def _is_alnum(c: int) -> bool:
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _decode_entity(s: bytes, pos: int) -> tuple[int, int]:
    """decode_html_entity: (code point or 0, position after it)."""

    def at(i: int) -> int:
        return s[i] if i < len(s) else 0

    end = pos + 1
    code = 0
    if at(pos + 1) == 0x23:  # '#'
        end += 1
        if at(pos + 2) == 0x78:  # 'x', lower case only
            end += 1
            while chr(at(end)) in "0123456789abcdefABCDEF" and at(end):
                code = code * 16 + int(chr(at(end)), 16)
                end += 1
        else:
            while 0x30 <= at(end) <= 0x39:
                code = code * 10 + at(end) - 0x30
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while 0x41 <= at(end) <= 0x5A or 0x61 <= at(end) <= 0x7A:
            end += 1
        code = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(s[pos + 1 : end], 0)
        if not code:
            return 0, pos
    return code, end + 1 if at(end) == 0x3B else end


def _utf8(code: int) -> bytes:
    return chr(code).encode("utf-8", "surrogatepass")


def _date_time_format(value: str) -> str:
    """The Bot API date_time_format for a tg-time ``format`` (regex r|w?[dD]?[tT]?)."""
    if any(c not in "rwWdDtT" for c in value) or ("r" in value and value != "r" * len(value)):
        raise EntityParseError("Invalid date format used")
    if "r" in value:
        return "r"
    week = "w" if any(c in "wW" for c in value) else ""
    date = "d" if "d" in value else "D" if "D" in value else ""
    time = "t" if "t" in value else "T" if "T" in value else ""
    return week + date + time


def _offset_error(what: str, at: int) -> EntityParseError:
    return EntityParseError(f"{what} at byte offset {at}")


def _name(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class _Parser:
    """State of one parse: the input bytes, the output, and the open tags."""

    def __init__(self, source: bytes) -> None:
        self.s = source
        self.out = bytearray()
        self.utf16 = 0
        self.surrogate = False  # an entity decoded to half a surrogate pair
        self.stack: list[_Open] = []
        self.entities: list[MessageEntity] = []

    def at(self, i: int) -> int:
        return self.s[i] if i < len(self.s) else 0

    def run(self) -> tuple[str, list[MessageEntity]]:
        i, n = 0, len(self.s)
        while i < n:
            c = self.s[i]
            if c == 0x26:  # '&'
                code, after = _decode_entity(self.s, i)
                if code:
                    self.utf16 += 2 if code > 0xFFFF else 1
                    self.surrogate |= 0xD800 <= code <= 0xDFFF
                    self.out += _utf8(code)
                    i = after
                    continue
            if c != 0x3C:  # '<'
                if c & 0xC0 != 0x80:  # first byte of a character
                    self.utf16 += 2 if c >= 0xF0 else 1
                self.out.append(c)
                i += 1
                continue
            i = self.end_tag(i) if self.at(i + 1) == 0x2F else self.start_tag(i)
        if self.stack:
            tag = _name(self.stack[-1].tag)
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        if self.surrogate:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, check for "
                "unmatched surrogate code units"
            )
        entities = [
            MessageEntity("code", e.offset, e.length) if e.type == "code" and e.language else e
            for e in self.entities
        ]
        return self.out.decode("utf-8"), sort_entities(entities)

    def start_tag(self, begin: int) -> int:
        """Parse ``<name attr=value ...>`` at ``begin``; return the index after ``>``."""
        at, i = self.at, begin + 1
        while at(i) not in _SPACES and at(i) != 0x3E:
            i += 1
        if at(i) == 0:
            raise _offset_error("Unclosed start tag", begin)
        tag = self.s[begin + 1 : i].lower()
        if tag not in ALLOWED_TAGS:
            raise _offset_error(f'Unsupported start tag "{_name(tag)}"', begin)
        opened = _Open(tag, self.utf16, len(self.out))
        while at(i) != 0x3E:
            while at(i) != 0 and at(i) in _SPACES:
                i += 1
            if at(i) == 0x3E:
                break
            name_begin = i
            while at(i) not in _SPACES and at(i) not in b"=>/\"'":
                i += 1
            attribute = self.s[name_begin:i]
            if not attribute:
                raise _offset_error(f'Empty attribute name in the tag "{_name(tag)}"', begin)
            while at(i) != 0 and at(i) in _SPACES:
                i += 1
            if at(i) != 0x3D:  # '='
                if at(i) == 0:
                    raise _offset_error(f'Unclosed start tag "{_name(tag)}"', begin)
                if tag == b"blockquote" and attribute == b"expandable":
                    opened.argument = "1"
                continue
            i += 1
            while at(i) != 0 and at(i) in _SPACES:
                i += 1
            if at(i) == 0:
                raise _offset_error(f'Unclosed start tag "{_name(tag)}"', begin)
            if at(i) not in b"\"'":
                # a name token: letters, digits, periods and hyphens; not case-sensitive
                token_begin = i
                while _is_alnum(at(i)) or (at(i) in b".-" and at(i)):
                    i += 1
                raw = self.s[token_begin:i].lower()
                if at(i) not in _SPACES and at(i) != 0x3E:
                    raise _offset_error("Unexpected end of name token", token_begin)
            else:
                quote = at(i)
                i += 1
                value = bytearray()
                while at(i) != quote and at(i) != 0:
                    if at(i) == 0x26:
                        code, after = _decode_entity(self.s, i)
                        if code:
                            value += _utf8(code)
                            i = after
                            continue
                    value.append(at(i))
                    i += 1
                if at(i) == quote:
                    i += 1
                raw = bytes(value)
            if at(i) == 0:
                raise _offset_error("Unclosed start tag", begin)
            self.attribute(opened, attribute, raw.decode("utf-8", "replace"))
        if tag == b"span" and opened.argument != "spoiler":
            raise _offset_error('Tag "span" must have class "tg-spoiler"', begin)
        self.stack.append(opened)
        return i + 1

    @staticmethod
    def attribute(opened: _Open, name: bytes, value: str) -> None:
        tag = opened.tag
        if tag == b"a" and name == b"href":
            opened.argument = value
        elif tag == b"code" and name == b"class" and value.startswith("language-"):
            opened.argument = value[9:]
        elif tag == b"span" and name == b"class" and value.startswith("tg-"):
            opened.argument = value[3:]
        elif tag == b"tg-emoji" and name == b"emoji-id":
            opened.argument = value
        elif tag == b"blockquote" and name == b"expandable":
            opened.argument = "1"
        elif tag == b"tg-time" and name in (b"unix", b"format"):
            opened.extra[name] = value

    def end_tag(self, begin: int) -> int:
        """Parse ``</name>`` at ``begin`` and close the innermost tag; return the index after."""
        at, i = self.at, begin + 2
        if not self.stack:
            raise _offset_error("Unexpected end tag", begin)
        while at(i) not in _SPACES and at(i) != 0x3E:
            i += 1
        name = self.s[begin + 2 : i].lower()
        while at(i) in _SPACES and at(i) != 0:
            i += 1
        if at(i) != 0x3E:
            raise _offset_error("Unclosed end tag", begin)
        opened = self.stack[-1]
        if name and name != opened.tag:
            expected, found = _name(opened.tag), _name(name)
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{expected}>", '
                f'found "</{found}>"'
            )
        if self.utf16 > opened.offset:
            self.close(opened)
        self.stack.pop()
        return i + 1

    def close(self, opened: _Open) -> None:
        offset, length = opened.offset, self.utf16 - opened.offset
        tag, argument, last = opened.tag, opened.argument, self.entities[-1:]
        same_span = bool(last) and last[0].offset == offset and last[0].length == length
        if tag in _SIMPLE:
            self.entities.append(MessageEntity(_SIMPLE[tag], offset, length))
        elif tag == b"tg-emoji":
            emoji_id = to_integer_safe(argument, 64)
            if not emoji_id:
                raise EntityParseError("Invalid custom emoji identifier specified")
            self.entities.append(
                MessageEntity("custom_emoji", offset, length, custom_emoji_id=str(emoji_id))
            )
        elif tag == b"a":
            url = argument or self.out[opened.begin :].decode("utf-8", "replace")
            user_id = link_user_id(url)
            if user_id is not None:
                self.entities.append(MessageEntity("text_mention", offset, length, user_id=user_id))
            elif (checked := check_link(url)) is not None:
                self.entities.append(MessageEntity("text_link", offset, length, url=checked))
        elif tag == b"pre":
            if same_span and last[0].type == "code" and last[0].language:
                self.entities[-1] = MessageEntity("pre", offset, length, language=last[0].language)
            else:
                self.entities.append(MessageEntity("pre", offset, length))
        elif tag == b"code":
            if same_span and last[0].type == "pre" and not last[0].language and argument:
                self.entities[-1] = MessageEntity("pre", offset, length, language=argument)
            else:  # the language stays until the end: an outer <pre> may still claim it
                self.entities.append(
                    MessageEntity("code", offset, length, language=argument or None)
                )
        elif tag == b"blockquote":
            kind = "expandable_blockquote" if argument else "blockquote"
            self.entities.append(MessageEntity(kind, offset, length))
        elif tag == b"tg-time":
            unix = to_integer_safe(opened.extra.get(b"unix", ""), 32)
            if unix is None or unix <= 0:
                raise EntityParseError("Invalid Unix time specified")
            fmt = _date_time_format(opened.extra.get(b"format", ""))
            self.entities.append(
                MessageEntity("date_time", offset, length, unix_time=unix, date_time_format=fmt)
            )


def parse_html(text: str) -> tuple[str, list[MessageEntity]]:
    """Parse Bot API ``parse_mode=HTML`` text as TDLib does: (plain text, sorted entities).

    Raises EntityParseError (bad markup) or TextError("Text is too long") over 32768 bytes.
    The result is TDLib's parser output; ``finalize_text`` gives what a chat then shows.
    """
    if check_raw_text(text) is not None:
        raise TextError("Text is too long")
    return _Parser(text.encode("utf-8")).run()


def process_text(
    text: str, parse_mode: str | None, *, caption: bool = False
) -> tuple[str, list[MessageEntity]]:
    """The Bot API path for a text or caption: limits, parsing, finalize_text, length check.

    ``parse_mode`` None, "" or "none" means plain text; "html" (any case) parses; anything else
    raises TextError("Unsupported parse_mode"). Markdown modes are not emulated (same error).
    Every refusal is a TextError whose ``description`` is the Bot API's.
    """
    if not caption and not text:
        raise TextError("Message text is empty")
    if check_raw_text(text) is not None:
        raise TextError("Text is too long")
    mode = (parse_mode or "").lower()
    entities: list[MessageEntity]
    if mode in ("", "none") or not text:
        parsed, entities = text, []
    elif mode == "html":
        parsed, entities = parse_html(text)
    else:
        raise TextError("Unsupported parse_mode")
    parsed, entities = finalize_text(parsed, entities, allow_empty=caption)
    too_long = check_length(parsed, caption=caption)
    if too_long is not None:
        raise TextError("Message caption is too long" if caption else "Message is too long")
    return parsed, entities
