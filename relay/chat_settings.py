"""Per-chat settings: how each destination receives each of its topics (`/settings`).

One Redis hash per destination (`Keys.chat_settings`, in the slot of its topic set): topic →
the JSON of the settings that differ from the defaults. A topic with every setting at its
default has no field, so a chat that never opened `/settings` costs nothing.

- `silent`: routine updates arrive without a notification: `default` (the topic's `silent`),
  `on`, `off`. Breaking news always notifies on Telegram, as with the topic's `silent`.
- `previews`: link previews (Telegram; a Discord update is an embed): `default` (the topic's
  `link_previews`), `on`, `off`.
- `breaking_only`: routine updates are not sent here (their edits and deletes then find no
  copy to change); an update edited into breaking news is sent then.
- `digest`: a chat that fell far behind gets its oldest updates of this topic as one digest of
  headlines (`dispatcher.digest_threshold`, the default) or, off, every update in full.

The sender reads a destination's hash in the round trip that reads its queue's head (no round
trip of its own). A topic's settings go when the chat unsubscribes from it; a chat that becomes
a supergroup keeps them (`Subscriptions.move`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import redis.asyncio as aioredis

from relay.config import TopicConfig
from relay.keys import Keys, as_str
from relay.model import Destination

log = logging.getLogger(__name__)
TRISTATE = ("default", "on", "off")
NAMES = ("silent", "previews", "breaking_only", "digest")


@dataclass(frozen=True)
class TopicSettings:
    """How one destination receives one topic."""

    silent: str = "default"
    previews: str = "default"
    breaking_only: bool = False
    digest: bool = True

    def apply(self, topic: TopicConfig) -> TopicConfig:
        """The topic as adapters render it for this destination."""
        silent = topic.silent if self.silent == "default" else self.silent == "on"
        previews = topic.link_previews if self.previews == "default" else self.previews
        if silent == topic.silent and previews == topic.link_previews:
            return topic
        return replace(topic, silent=silent, link_previews=previews)

    def skips(self, breaking: bool) -> bool:
        """Whether an update (breaking or not) is not sent here at all."""
        return self.breaking_only and not breaking

    def toggled(self, name: str) -> TopicSettings:
        """The next value of setting `name`: a tri-state cycles default → on → off."""
        value = getattr(self, name)
        new: Any = (
            (not value) if isinstance(value, bool) else TRISTATE[(TRISTATE.index(value) + 1) % 3]
        )
        return replace(self, **{name: new})

    def encode(self) -> str | None:
        """JSON of the settings that differ from the defaults (None: all are defaults)."""
        default = TopicSettings()
        changed = {k: v for k, v in asdict(self).items() if getattr(default, k) != v}
        return json.dumps(changed, separators=(",", ":"), sort_keys=True) if changed else None

    @classmethod
    def decode(cls, raw: Any) -> TopicSettings:
        """Settings from their JSON; what cannot be read (an older or hand-edited value) is
        the default, never an error: a setting must not stop a delivery."""
        try:
            data = json.loads(as_str(raw))
        except (UnicodeDecodeError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name)
            good = value in TRISTATE if f.type == "str" else isinstance(value, bool)
            if good:
                values[f.name] = value
        return cls(**values)

    def describe(self) -> str:
        """The settings that differ from the defaults, in words ("" for none)."""
        words = []
        if self.silent != "default":
            words.append(f"silent {self.silent}")
        if self.previews != "default":
            words.append(f"previews {self.previews}")
        if self.breaking_only:
            words.append("breaking only")
        if not self.digest:
            words.append("digest off")
        return ", ".join(words)


DEFAULT = TopicSettings()


@dataclass(frozen=True)
class DestinationSettings:
    """A destination's settings per topic (a topic it has none for has the defaults)."""

    topics: Mapping[str, TopicSettings]

    def of(self, topic: str) -> TopicSettings:
        return self.topics.get(topic, DEFAULT)


NONE = DestinationSettings({})


class ChatSettings:
    """Owner of the per-destination settings hashes."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def get_in(self, pipe: Any, dest: Destination) -> None:
        """Queue the read of `dest`'s settings on `pipe`; `parse` its result."""
        pipe.hgetall(self.keys.chat_settings(str(dest)))

    @staticmethod
    def parse(raw: Any) -> DestinationSettings:
        """Settings from HGETALL's answer; an error answer (a key of another type) reads as
        the defaults, logged: the chat still receives its updates."""
        if isinstance(raw, Exception):
            log.warning("settings unreadable, defaults used: %s", raw)
            return NONE
        if not raw:
            return NONE
        return DestinationSettings(
            {as_str(k): TopicSettings.decode(v) for k, v in dict(raw).items()}
        )

    async def get(self, dest: Destination) -> DestinationSettings:
        return self.parse(await self.client.hgetall(self.keys.chat_settings(str(dest))))

    async def set(self, dest: Destination, topic: str, settings: TopicSettings) -> None:
        """Store `dest`'s settings of `topic` (defaults: the field goes)."""
        key, value = self.keys.chat_settings(str(dest)), settings.encode()
        if value is None:
            await self.client.hdel(key, topic)
        else:
            await self.client.hset(key, topic, value)

    def set_many_in(self, pipe: Any, dest: Destination, settings: DestinationSettings) -> None:
        """Queue writing every topic's settings of `settings` to `dest` (a chat that moved)."""
        values = {t: s.encode() for t, s in settings.topics.items()}
        kept = {t: v for t, v in values.items() if v is not None}
        if kept:
            pipe.hset(self.keys.chat_settings(str(dest)), mapping=kept)

    def forget_in(self, pipe: Any, dest: Destination | str, topics: Iterable[str] | None) -> None:
        """Queue removing `dest`'s settings of `topics` (None: all of them)."""
        key = self.keys.chat_settings(str(dest))
        topics = None if topics is None else list(topics)
        if topics is None:
            pipe.delete(key)
        elif topics:
            pipe.hdel(key, *topics)
