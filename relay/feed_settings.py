"""The `feeds` section: live blogs' feeds the relay follows (`relay.feeds`), one entry each.

A feed names its `url` (RSS, Atom or JSON Feed over http or https) and the `topic` its entries
go to; `interval_seconds` paces the polls (at least `MIN_INTERVAL`). On its first poll the relay
publishes only the newest `backfill` entries (none by default) and remembers the rest, so that
adding a feed does not flood every channel with its history. With `deletes: true` an entry
taken out of the feed (not one that merely scrolled off its end) is deleted from every copy.
`check` holds the rules that span sections: a known topic, and each URL followed once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from relay.errors import ConfigError
from relay.settings import Rule

MIN_INTERVAL = 1.0  # seconds: a feed polled faster is a load on the newsroom's CMS, not news

FeedUrl = Annotated[
    str, Rule("an http:// or https:// URL", test=lambda u: u.startswith(("http://", "https://")))
]
Interval = Annotated[
    float, Rule(f"a number of seconds, at least {MIN_INTERVAL:g}", test=lambda s: s >= MIN_INTERVAL)
]
Backfill = Annotated[int, Rule("a whole number, 0 or more", test=lambda n: n >= 0)]
FeedTopic = Annotated[str, Rule("a configured topic's slug", test=bool)]


@dataclass(frozen=True)
class FeedConfig:
    """One feed to follow: its entries become updates of `topic`, its changes edits."""

    url: FeedUrl
    topic: FeedTopic
    enabled: bool = True  # false: not polled (what it found so far is kept for when it is back)
    interval_seconds: Interval = 60.0
    backfill: Backfill = 0  # entries published on the first poll (the newest); the rest wait
    deletes: bool = False  # an entry taken out of the feed is deleted from every copy
    author: str = ""  # the updates' author line (the entry's own author when empty)


def check(file: str, feeds: Sequence[FeedConfig], topics: Sequence[str]) -> None:
    """Every feed goes to a configured topic, and no URL is followed twice."""
    seen: set[str] = set()
    for i, feed in enumerate(feeds):
        if feed.topic not in topics:
            expected = f"a configured topic slug, got unknown {feed.topic!r}"
            raise ConfigError(file, f"feeds[{i}].topic", expected)
        if feed.url in seen:
            raise ConfigError(file, f"feeds[{i}].url", "a URL no other feed has")
        seen.add(feed.url)
