"""The one small interface every platform adapter implements.

An adapter renders an `Update` natively (pure, split to the platform's limits), sends, edits
and deletes copies, translates platform errors into `relay.errors.DeliveryError` subclasses,
and turns native chat input into `relay.commands` invocations.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from relay.budgets import SHARED_MARGIN, TELEGRAM_MARGIN, Budget, Budgets, no_pace
from relay.config import Config, TopicConfig
from relay.health import Health
from relay.model import Destination, Update

if TYPE_CHECKING:
    from relay.claims import Claims
    from relay.commands import Commands
    from relay.media import MediaStore
    from relay.registry import Registry
    from relay.subscriptions import Subscriptions

__all__ = [
    "SHARED_MARGIN",
    "TELEGRAM_MARGIN",
    "Adapter",
    "AdapterContext",
    "AdapterFactory",
    "Budget",
    "Fleet",
    "Pace",
    "no_pace",
]


@dataclass(frozen=True)
class AdapterContext:
    """Everything an adapter gets from the relay beyond its config, handed to `start`.

    `commands` is None in a process that only delivers (a CLI command, a benchmark): the
    adapter then listens to no chat input. An adapter that listens gets the rest too: `claims`
    (only one worker polls a bot, one answers each interaction), the update `registry` (an edit
    form shows the update as it is now) and `subscriptions` (a chat that moved, the topics a
    chat receives). Adapters reach Redis only through these. `budgets` is given to every
    process: replies to commands wait their turn in it (`Budgets.wait_turn`), and budgets the
    relay does not pace itself (Discord's crossposts per channel and hour) are counted there.
    `media` holds photos with no public URL (`relay.media`): a listening adapter puts an
    editor's photo there, and every adapter uploads the photos it holds.
    """

    commands: Commands | None = None
    claims: Claims | None = None
    registry: Registry | None = None
    subscriptions: Subscriptions | None = None
    budgets: Budgets | None = None
    media: MediaStore | None = None

    def __post_init__(self) -> None:
        parts = (self.claims, self.registry, self.subscriptions)
        if self.commands is not None and any(p is None for p in parts):
            raise ValueError("listening for commands needs claims, registry and subscriptions")


Pace = Callable[[], Awaitable[None]]
"""Awaited by an adapter before each platform call a budget counts (a send or an edit of one
part; not a delete, a pin or a read): it returns at the slot the relay reserved for that call."""


class Adapter(ABC):
    """A platform: rendering, delivery and command input."""

    platform: str = ""
    bot_name: str = ""  # which of the platform's bots (`relay.bot_settings`), if it has bots
    several_bots: bool = False  # the platform runs more than this one

    @property
    def component(self) -> str:
        """Its name in `/readyz` and logs: the platform, or `platform:bot` among several."""
        return f"{self.platform}:{self.bot_name}" if self.several_bots else self.platform

    def budgets(self, dest: Destination) -> tuple[Budget, ...]:
        """The budgets one message to `dest` spends, broadest first (global, then per chat)."""
        return ()

    @abstractmethod
    def render(self, update: Update, topic: TopicConfig) -> Sequence[Any]:
        """The platform messages for `update`, each within the platform's limits. Pure."""

    @abstractmethod
    async def send(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        *,
        pace: Pace = no_pace,
        sent: tuple[str, ...] = (),
    ) -> tuple[str, ...]:
        """Deliver a new copy; return the platform message ids of every part.

        `sent` are the ids of the first parts, delivered by an earlier try that failed part
        way: send only the parts after them. If a part fails after others went out, raise the
        error with `error.sent` set to every id delivered so far; never delete them.
        `await pace()` before each part's call.
        """

    @abstractmethod
    async def edit(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        message_ids: tuple[str, ...],
        *,
        pace: Pace = no_pace,
    ) -> tuple[str, ...]:
        """Make the copy `message_ids` show `update`; return the ids of the parts now shown.

        Parts are edited in place, added or deleted when the number of parts changes. If a
        call fails after parts were added or deleted, raise with `error.sent` set to the ids the
        copy has now. Ids are the adapter's own strings: it may write in them what a later
        edit needs to know (a Discord thread, a Telegram photo). `await pace()` before each
        call that sends or edits a part.
        """

    @abstractmethod
    async def delete(self, dest: Destination, message_ids: tuple[str, ...]) -> None:
        """Remove every part of a copy. A part already gone counts as deleted."""

    async def start(self, context: AdapterContext) -> None:
        """Connect, and listen for chat commands if `context.commands` is given."""
        return None

    async def aclose(self) -> None:
        """Stop listening and release connections."""
        return None

    def background(self) -> Sequence[asyncio.Task[Any]]:
        """The tasks `start` left running (a poller, a gateway): the relay stops if one ends."""
        return ()

    async def health(self) -> Health:
        """Whether the platform can be reached now, with detail for `/readyz` (JSON-able)."""
        return Health(True)


AdapterFactory = Callable[[Config, TextIO | None], "Adapter | Sequence[Adapter]"]
"""What an adapter registers in the `live_relay.adapters` entry-point group: config, console out
→ the adapter, or one adapter per bot of a platform that has several."""


class Fleet(Mapping[str, Adapter]):
    """The adapters of a process: by platform (its first bot), and by platform and bot name.

    A platform with several bots (`telegram.bots`, `discord.bots`) has one adapter per bot;
    `pick` finds the one that serves a destination bound to a bot, or holds a copy it sent.
    """

    def __init__(self, adapters: Iterable[Adapter]) -> None:
        self._first: dict[str, Adapter] = {}
        self._bots: dict[tuple[str, str], Adapter] = {}
        for adapter in adapters:
            self._first.setdefault(adapter.platform, adapter)
            self._bots[adapter.platform, adapter.bot_name] = adapter

    def pick(self, platform: str, bot: str = "") -> Adapter | None:
        """The adapter of `bot` on `platform` ("": the platform's first); None if not running.

        An adapter that knows no bots (`bot_name` "": the console, a test double) serves all.
        """
        first = self._first.get(platform)
        if first is None or not bot or not first.bot_name:
            return first
        return self._bots.get((platform, bot))

    def __getitem__(self, platform: str) -> Adapter:
        return self._first[platform]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)
