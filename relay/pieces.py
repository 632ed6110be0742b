"""Cutting a paragraph's styled pieces (Telegram's runs, Discord's spans) at a character offset.

Both renderers split a long paragraph the same way: the pieces before an offset of their joined
text, the pieces after it, the piece that straddles it cut in two; then the whitespace at the
cut trimmed. One implementation, for any frozen dataclass with a `text` field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar


class Piece(Protocol):
    @property
    def text(self) -> str: ...


P = TypeVar("P", bound=Piece)


def _retext(piece: Any, text: str) -> Any:
    return replace(piece, text=text)


def cut(
    pieces: Sequence[P], at: int, retext: Callable[[P, str], P] = _retext
) -> tuple[tuple[P, ...], tuple[P, ...]]:
    """`pieces` split at character offset `at` of their joined text; `retext` makes each half
    of a piece cut in two (by default the same piece with that text)."""
    head: list[P] = []
    tail: list[P] = []
    seen = 0
    for piece in pieces:
        end = seen + len(piece.text)
        if end <= at:
            head.append(piece)
        elif seen >= at:
            tail.append(piece)
        else:
            head.append(retext(piece, piece.text[: at - seen]))
            tail.append(retext(piece, piece.text[at - seen :]))
        seen = end
    return tuple(head), tuple(tail)


def strip(pieces: Sequence[P]) -> tuple[P, ...]:
    """`pieces` without the whitespace at either end (at a cut): blank pieces dropped, the first
    and last trimmed."""
    items = list(pieces)
    while items and not items[0].text.strip():
        items.pop(0)
    while items and not items[-1].text.strip():
        items.pop()
    if items:
        items[0] = _retext(items[0], items[0].text.lstrip())
        items[-1] = _retext(items[-1], items[-1].text.rstrip())
    return tuple(items)
