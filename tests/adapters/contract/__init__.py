"""The adapter contract: a harness per platform, and the updates every adapter must carry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from relay.adapter import Adapter
from relay.config import TopicConfig
from relay.model import Destination, Image, Update, validate

Op = Literal["send", "edit", "delete"]
Fault = Literal["rate_limited", "rejected", "server_error", "network"]
OPS: tuple[Op, ...] = ("send", "edit", "delete")

MOVED = "moved"  # a destination can move to a new id (a Telegram group becoming a supergroup)
IDEMPOTENT_SEND = "idempotent_send"  # a send retried after a lost answer shows one copy
CAPABILITIES = (MOVED, IDEMPOTENT_SEND)

RETRY_AFTER = 90.0  # longer than any client library waits out on its own
TOPIC = TopicConfig("ukraine", "War in Ukraine", hashtag="#Ukraine")


@dataclass(frozen=True)
class Shown:
    """One message the bot has in a chat, as a reader sees it."""

    id: str
    text: str


class Harness(ABC):
    """What the shared suite needs to know about one adapter and the chat behind it.

    Every capability in `CAPABILITIES` is either in `capabilities` or explained in `lacks` (why
    not, and what the adapter does instead); the suite asserts that instead of passing silently.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]
    lacks: ClassVar[Mapping[str, str]]
    adapter: Adapter

    @abstractmethod
    async def destination(self) -> Destination:
        """A fresh chat the bot may post to, empty."""

    @abstractmethod
    async def gone(self) -> list[tuple[str, Destination]]:
        """Destinations gone for good (blocked, kicked, deleted…), each with what happened."""

    async def moved(self) -> tuple[Destination, Destination]:
        """A destination that moved, and where it lives now (capability `MOVED`)."""
        raise NotImplementedError

    @abstractmethod
    def inject(self, fault: Fault, op: Op, dest: Destination) -> None:
        """Make the platform answer the next `op` at `dest` with `fault`.

        rate_limited: a 429 asking to wait `RETRY_AFTER` seconds; rejected: a 400; server_error:
        a 5xx; network: the connection drops with no answer.
        """

    @abstractmethod
    def rejection(self, op: Op) -> str:
        """The `Rejected.reason` the adapter gives for the 400 `inject("rejected", op)` sends."""

    @abstractmethod
    def heal(self) -> None:
        """No more injected faults."""

    @contextmanager
    def fault(self, fault: Fault, op: Op, dest: Destination) -> Iterator[None]:
        """`inject` for the duration of a block."""
        self.inject(fault, op, dest)
        try:
            yield
        finally:
            self.heal()

    @abstractmethod
    def lose_next_answer(self, dest: Destination) -> None:
        """The next send to `dest` takes effect, but its answer never arrives."""

    @abstractmethod
    def shown(self, dest: Destination) -> list[Shown]:
        """What the chat shows of the bot's messages, oldest first (deleted ones left out)."""

    @abstractmethod
    def photos(self, dest: Destination) -> list[str]:
        """The URLs of the photos the chat shows."""

    @abstractmethod
    def check_part(self, part: Any) -> None:
        """Fail if one rendered part breaks a limit of the platform."""

    @abstractmethod
    def activity(self) -> int:
        """How many platform calls were made so far (rendering must make none)."""


# --- what every adapter must carry ----------------------------------------------------------


def _long_body() -> str:
    """Exactly 10,000 characters: numbered paragraphs, each word plain in every platform."""
    paragraphs = [f"Para{i:03d} " + "Water rose over the old dam at dawn. " * 4 for i in range(60)]
    body = "\n\n".join(p.strip() for p in paragraphs)
    body = body[:9_990].rstrip()
    body += " " + "z" * (10_000 - len(body) - 1)
    assert len(body) == 10_000
    return body


LONG_BODY = _long_body()
LONG_TOKENS = tuple(f"Para{i:03d}" for i in range(60) if f"Para{i:03d}" in LONG_BODY)
# Markup characters to escape on every platform, so escaping has to stay within the limits.
LONG_HEADLINE = " ".join(f"Head{i:02d} *_&<>_*" for i in range(20))[:256]
HEADLINE_TOKENS = tuple(f"Head{i:02d}" for i in range(20) if f"Head{i:02d}" in LONG_HEADLINE)
CAPTION = " ".join(f"Cap{i:03d} smoke over the city." for i in range(40))[:1000]
CAPTION_TOKENS = tuple(f"Cap{i:03d}" for i in range(40) if f"Cap{i:03d} " in CAPTION)
PHOTO = Image("https://img.example/dam.jpg", CAPTION, "Jane Roe/AP")


def update(body: str = "", **fields: Any) -> Update:
    """A valid update (the model's own validation) with `body` and `fields`."""
    fields.setdefault("id", "u1")
    fields.setdefault("headline", "Dam breached")
    return validate(Update(topic="ukraine", body=body, **fields))


@dataclass(frozen=True)
class Case:
    """An update to render and send, and the words a reader must find in the chat."""

    update: Update
    tokens: tuple[str, ...]
    split: bool | None  # over every platform's limit for one message; None: the platform's call
    photo: str | None = None


CASES = {
    "long body": Case(update(LONG_BODY), LONG_TOKENS, split=True),
    "long headline": Case(update("Short.", headline=LONG_HEADLINE), HEADLINE_TOKENS, split=False),
    # a caption of 1,000 characters: within Discord's footer, over Telegram's caption with the rest
    "photo": Case(update("Short.", image=PHOTO), CAPTION_TOKENS, None, PHOTO.url),
    "photo, long body": Case(
        update(LONG_BODY, image=PHOTO), LONG_TOKENS + CAPTION_TOKENS, True, PHOTO.url
    ),
}
