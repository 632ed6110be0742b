"""Every Redis key the relay uses, in one place.

Keys that one Lua script or transaction touches together share a hash tag (`{…}`), so the
data set runs on Redis Cluster: the update registry and the updates stream share `{u}`;
each topic's subscriber set and each destination's topic set carry their own tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def as_str(value: Any) -> str:
    """A Redis reply value (bytes with the default client) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix (`redis.key_prefix`, default `relay`)."""

    prefix: str = "relay"

    @property
    def updates(self) -> str:
        """The stream every accepted update enters."""
        return f"{self.prefix}:{{u}}:updates"

    @property
    def dead_letters(self) -> str:
        """Stream entries that could not be parsed or kept failing, with the reason."""
        return f"{self.prefix}:{{u}}:dead"

    def update(self, update_id: str) -> str:
        """Hash with the latest accepted revision of one update (for edit and delete)."""
        return f"{self.prefix}:{{u}}:update:{update_id}"

    def topic_subscribers(self, topic: str) -> str:
        return f"{self.prefix}:{{t:{topic}}}:subscribers"

    def destination_topics(self, destination: str) -> str:
        return f"{self.prefix}:{{d:{destination}}}:topics"

    @property
    def destinations(self) -> str:
        """Set of every destination with at least one subscription (for status)."""
        return f"{self.prefix}:destinations"

    @property
    def config_channels(self) -> str:
        """Set of `destination|topic` pairs the config subscribed (synced at start-up)."""
        return f"{self.prefix}:config_channels"

    def ledger(self, update_id: str) -> str:
        """Hash destination → JSON {revision, message ids} of the copies of one update."""
        return f"{self.prefix}:{{l:{update_id}}}:ledger"

    @property
    def entry_errors(self) -> str:
        """Hash stream entry id → the last error that kept it from being acknowledged."""
        return f"{self.prefix}:{{u}}:entry_errors"

    def progress(self, update_id: str) -> str:
        """Hash {revision, total, delivered, failed, done} of an update's latest fan-out."""
        return f"{self.prefix}:{{l:{update_id}}}:progress"

    @property
    def group(self) -> str:
        """The consumer group of the dispatchers."""
        return "dispatchers"
