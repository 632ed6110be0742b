"""`ConsoleAdapter`: the dry-run destination; writes what would be sent to a text stream."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from typing import TextIO

from relay.adapter import Adapter, Pace, no_pace
from relay.adapters.text import plain_text
from relay.config import Config, TopicConfig
from relay.model import Destination, Update

RULE = "─" * 60


class ConsoleAdapter(Adapter):
    """Prints each copy, edit and deletion to `out` (standard output by default)."""

    platform = "console"

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self._ids = itertools.count(1)

    def render(self, update: Update, topic: TopicConfig) -> Sequence[str]:
        return [plain_text(update, topic)]

    def _write(self, header: str, body: str = "") -> None:
        self.out.write(f"{RULE}\n{header}\n{body}{chr(10) if body else ''}")
        self.out.flush()

    async def send(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        *,
        pace: Pace = no_pace,
        sent: tuple[str, ...] = (),
    ) -> tuple[str, ...]:
        if sent:  # one part: a copy with a part out is whole
            return sent
        await pace()
        message_id = f"c{next(self._ids)}"
        header = f"→ {dest}  update={update.id} rev={update.revision} message={message_id}"
        self._write(header, self.render(update, topic)[0])
        return (message_id,)

    async def edit(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        message_ids: tuple[str, ...],
        *,
        pace: Pace = no_pace,
    ) -> tuple[str, ...]:
        await pace()
        header = f"✎ {dest}  update={update.id} rev={update.revision} edits={','.join(message_ids)}"
        self._write(header, self.render(update, topic)[0])
        return message_ids[:1]

    async def delete(self, dest: Destination, message_ids: tuple[str, ...]) -> None:
        self._write(f"✗ {dest}  deleted={','.join(message_ids)}")


def create(config: Config, out: TextIO | None = None) -> ConsoleAdapter:
    """The entry point `relay run` loads when `console.enabled` is set."""
    return ConsoleAdapter(out)
