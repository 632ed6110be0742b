"""The updates stream's entries as `Stream.read` and `Stream.claim` return them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relay.keys import as_str, as_text


@dataclass(frozen=True)
class Entry:
    """One stream entry: its id and its fields; `problem` says why it cannot be read at all.

    Fields that are not UTF-8 are kept with `\\x..` escapes, so that the entry can still be
    dead-lettered with what it held.
    """

    id: str
    fields: dict[str, str]
    problem: str | None = None


def _utf8(value: Any) -> bool:
    try:
        as_str(value)
    except UnicodeDecodeError:
        return False
    return True


def _entry(entry_id: Any, raw: Any) -> Entry:
    if not raw:  # deleted (XDEL) while pending (XADD needs a field; trimming spares these)
        return Entry(as_str(entry_id), {}, "the entry was deleted before it was fanned out")
    fields = {as_text(name): as_text(value) for name, value in raw.items()}
    problem = None
    for name, value in raw.items():
        if not _utf8(name):
            problem = f"a field name is not UTF-8: {as_text(name)!r}"
        elif not _utf8(value):
            problem = f"field {as_text(name)!r} is not UTF-8"
        if problem:
            break
    return Entry(as_str(entry_id), fields, problem)


def entries(raw: Any) -> list[Entry]:
    """The entries of an XREADGROUP or XAUTOCLAIM answer, each readable or saying why not."""
    return [_entry(entry_id, fields) for entry_id, fields in raw or []]
