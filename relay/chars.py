"""Which characters an update's text may hold: no control characters, and text that shows.

A console obeys ESC, a terminal erases on backspace, and a headline of U+200B is blank on
every platform: `clean` refuses control characters (but a tab, and the line breaks of text of
several lines), `visible` tells a headline that shows something. Both run on every decode of
every update, so the common case is a C loop over the UTF-8 bytes (a regular expression costs
5 ns a character, 50 µs for a full body); the regex runs only to name what was found.
"""

from __future__ import annotations

import re
import unicodedata

from relay.errors import InvalidUpdate
from relay.i18n import N_

# Control characters (Unicode category Cc) but tab, plus the line separators that break a line
_IN_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # text of several lines keeps LF
# The same, as UTF-8 bytes: C0 and DEL are single bytes no multi-byte sequence contains
_C0_IN_LINE = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])
_C0_IN_TEXT = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])
_C1 = re.compile(b"\xc2[\x80-\x9f]")  # U+0080-U+009F
_SEPARATORS = (b"\xe2\x80\xa8", b"\xe2\x80\xa9")  # U+2028, U+2029
_BREAKS = "\n\r\x85\u2028\u2029"
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")  # letters and symbols that show nothing
_HIDDEN = ("Cc", "Cf", "Zs", "Zl", "Zp")


def clean(field_name: str, value: str, *, lines: bool = False) -> str:
    """`value` if UTF-8 can encode it and it holds no control character (where `lines`: but
    LF, and CR LF or CR read as LF); else `InvalidUpdate` naming the field and the character."""
    if not lines and value.isprintable():  # no Cc, Cs, Z*, Cf: the usual line, at once
        return value
    if lines and "\r" in value:  # a CMS form posts CR LF
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    try:
        raw = value.encode()
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape: Redis could not store it
        raise InvalidUpdate(field_name, N_("must be valid Unicode text")) from None
    found = (
        len(raw.translate(None, _C0_IN_TEXT if lines else _C0_IN_LINE)) != len(raw)
        or (b"\xc2" in raw and _C1.search(raw) is not None)
        or (not lines and (_SEPARATORS[0] in raw or _SEPARATORS[1] in raw))
    )
    bad = (_IN_TEXT if lines else _IN_LINE).search(value) if found else None
    if bad is None:
        return value
    if bad.group() in _BREAKS:
        raise InvalidUpdate(field_name, N_("must be a single line"))
    why = N_("must not contain control characters, found U+{code:04X}")
    raise InvalidUpdate(field_name, why, code=ord(bad.group()))


def visible(text: str) -> bool:
    """Whether `text` shows anything: not only spaces, format marks (U+200B…) and blanks."""
    return any(not (c in _BLANK or unicodedata.category(c) in _HIDDEN) for c in text)
