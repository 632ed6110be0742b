"""Following live blogs' feeds (`feeds:` in the config) for a CMS with no webhook.

Each feed (RSS, Atom or JSON Feed) is polled every `interval_seconds` by one worker at a time
(a lease, as a Telegram bot's poller), with `If-None-Match`/`If-Modified-Since` so an unchanged
feed costs a 304. A new entry becomes an update of the feed's topic; an entry whose content
changed since the last poll becomes an edit of that update, never a second post; with `deletes`
an entry taken out of the feed is deleted everywhere. Everything goes through `Ingest`, as an
editor's command or the API does. The update id is derived from the feed's URL and the entry's
id, so a poll repeated after a crash publishes nothing twice (ingest takes an identical publish
as a retry). What each entry looked like at the last poll lives in Redis (`feed_entries`), so
an editor's own edit of a feed's update is not undone until the feed changes that entry again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from relay import __version__, feed_reader
from relay.changes import Changes
from relay.claims import Claims
from relay.errors import InvalidUpdate, UnknownUpdate
from relay.feed_reader import Item
from relay.feed_settings import FeedConfig
from relay.ingest import Ingest
from relay.keys import Keys, as_str
from relay.model import Action, Update
from relay.stream import UNREACHABLE

log = logging.getLogger(__name__)
TIMEOUT = 30.0  # seconds a poll may take, all told
MAX_BYTES = 10 * 1024 * 1024  # a feed larger than this is refused, not read
CONTENT = ("headline", "body", "link", "image", "author")


def feed_id(url: str) -> str:
    """The short name of a feed in keys and update ids."""
    return hashlib.sha1(url.encode()).hexdigest()[:16]


def update_id(url: str, key: str) -> str:
    """The id of the update an entry becomes: the same at every poll, on every worker."""
    return "feed-" + hashlib.sha1(f"{url}\n{key}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Seen:
    """What the last poll found of an entry: its content's fingerprint and date (0: none)."""

    fingerprint: str
    published: float

    def encode(self) -> str:
        return f"{self.fingerprint} {self.published:.0f}"

    @classmethod
    def decode(cls, raw: Any) -> Seen:
        fingerprint, _, published = as_str(raw).partition(" ")
        return cls(fingerprint, float(published or 0))


class FeedState:
    """The feed's polling state in Redis: HTTP validators, the entries seen, the last outcome."""

    def __init__(self, client: aioredis.Redis, keys: Keys, feed: FeedConfig) -> None:
        self.client = client
        self.entries_key = keys.feed_entries(feed_id(feed.url))
        self.http_key = keys.feed_http(feed_id(feed.url))

    async def load(self) -> tuple[dict[str, str], dict[str, Seen]]:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.http_key)
            pipe.hgetall(self.entries_key)
            http, entries = await pipe.execute()
        return ({as_str(k): as_str(v) for k, v in http.items()},
                {as_str(k): Seen.decode(v) for k, v in entries.items()})  # fmt: skip

    async def polled(self, outcome: str, validators: dict[str, str] | None = None) -> None:
        mapping: dict[Any, Any] = {"polled_at": f"{time.time():.3f}", "outcome": outcome}
        mapping.update(validators or {})
        await self.client.hset(self.http_key, mapping=mapping)

    async def saw(self, key: str, seen: Seen) -> None:
        await self.client.hset(self.entries_key, key, seen.encode())

    async def forget(self, keys: Sequence[str]) -> None:
        if keys:
            await self.client.hdel(self.entries_key, *keys)


class FeedFollower:
    """Polls one feed while this worker holds its lease, and turns its changes into updates."""

    def __init__(
        self, feed: FeedConfig, ingest: Ingest, claims: Claims, state: FeedState,
        http: aiohttp.ClientSession,
    ) -> None:  # fmt: skip
        self.feed = feed
        self.ingest = ingest
        self.state = state
        self.http = http
        self.lease = claims.poll_lease("feed", feed_id(feed.url), ttl=feed.interval_seconds * 3)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every `interval_seconds` while holding the lease, until `stop`."""
        try:
            while not stop.is_set():
                try:
                    if await self.lease.hold():
                        await self.poll()
                except UNREACHABLE as exc:
                    log.warning("feed %s: Redis unreachable (%s); next poll in %gs",
                                self.feed.url, exc, self.feed.interval_seconds)  # fmt: skip
                except Exception:
                    log.exception("feed %s: poll failed", self.feed.url)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.feed.interval_seconds)
        finally:
            try:
                await self.lease.release()
            except Exception as exc:  # it expires on its own
                log.info("feed %s: lease not released: %s", self.feed.url, exc)

    async def poll(self) -> None:
        """One poll: fetch (conditionally), then publish, edit and delete what changed."""
        http, seen = await self.state.load()
        first = "polled_at" not in http
        fetched = await self._fetch(http)
        if fetched is None:
            return
        body, validators = fetched
        try:
            items = feed_reader.read(body)
        except ValueError as exc:
            log.warning("feed %s: not a feed (%s); next poll in %gs",
                        self.feed.url, exc, self.feed.interval_seconds)  # fmt: skip
            await self.state.polled(f"unreadable: {exc}")
            return
        fresh = {item.key for item in items[len(items) - self.feed.backfill :]} if first else None
        for item in items:  # oldest first
            if item.key in seen and seen[item.key].fingerprint == item.fingerprint:
                continue
            if fresh is None or item.key in fresh:
                await self._apply(item, edit=item.key in seen)
            await self.state.saw(item.key, Seen(item.fingerprint, item.published))
        await self._gone(items, seen)
        await self.state.polled(f"ok: {len(items)} entries", validators)

    async def _fetch(self, http: dict[str, str]) -> tuple[bytes, dict[str, str]] | None:
        headers = {"User-Agent": f"live-relay/{__version__}"}
        if http.get("etag"):
            headers["If-None-Match"] = http["etag"]
        if http.get("last_modified"):
            headers["If-Modified-Since"] = http["last_modified"]
        try:
            async with self.http.get(self.feed.url, headers=headers) as response:
                if response.status == 304:
                    await self.state.polled("not modified")
                    return None
                if response.status != 200:
                    raise aiohttp.ClientResponseError(
                        response.request_info, (), status=response.status,
                        message=response.reason or "",
                    )  # fmt: skip
                if (response.content_length or 0) > MAX_BYTES:
                    raise ValueError(f"larger than {MAX_BYTES:,} bytes")
                body = await response.content.read(MAX_BYTES + 1)
                if len(body) > MAX_BYTES:
                    raise ValueError(f"larger than {MAX_BYTES:,} bytes")
                validators = {
                    "etag": response.headers.get("ETag", ""),
                    "last_modified": response.headers.get("Last-Modified", ""),
                }
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            why = f"{type(exc).__name__}: {exc}".rstrip(": ")
            log.warning("feed %s unreachable (%s); next poll in %gs",
                        self.feed.url, why, self.feed.interval_seconds)  # fmt: skip
            await self.state.polled(f"failed: {why}")
            return None
        return body, validators

    def _update(self, item: Item) -> Update:
        return Update(id=update_id(self.feed.url, item.key), topic=self.feed.topic,
                      headline=item.headline, body=item.body, link=item.link, image=item.image,
                      author=self.feed.author or item.author)  # fmt: skip

    async def _apply(self, item: Item, edit: bool) -> None:
        """Publish `item`'s update, or edit it to the feed's content (`edit`: it changed)."""
        wanted = self._update(item)
        try:
            latest = await self.ingest.latest(wanted.id)
            if latest is None:
                await self.ingest.publish(wanted)
                log.info("feed %s: new entry %s -> update=%s", self.feed.url, item.key, wanted.id)
            elif latest.action is not Action.DELETE and _differs(latest, wanted):
                changes = {f: getattr(wanted, f) for f in CONTENT
                           if getattr(wanted, f) != getattr(latest, f)}  # fmt: skip
                await self.ingest.edit(wanted.id, Changes(**changes))
                log.info("feed %s: entry %s changed -> edit update=%s", self.feed.url, item.key,
                         wanted.id)  # fmt: skip
        except (InvalidUpdate, UnknownUpdate) as exc:  # bad input: said once, then left alone
            log.warning("feed %s: entry %s refused: %s", self.feed.url, item.key, exc)

    async def _gone(self, items: Sequence[Item], seen: dict[str, Seen]) -> None:
        """Entries no longer in the feed: deleted if taken out (with `deletes`), else forgotten
        (they scrolled off its end: older than every entry it still lists)."""
        listed = {item.key for item in items}
        dates = [item.published for item in items]
        oldest = min(dates) if dates and all(dates) else None
        gone = [key for key in seen if key not in listed]
        for key in gone:
            taken_out = oldest is not None and seen[key].published >= oldest
            if self.feed.deletes and taken_out:
                try:
                    await self.ingest.delete(update_id(self.feed.url, key))
                    log.info("feed %s: entry %s taken out -> delete", self.feed.url, key)
                except (InvalidUpdate, UnknownUpdate) as exc:  # never published, or deleted
                    log.info("feed %s: entry %s taken out: %s", self.feed.url, key, exc)
        await self.state.forget(gone)


async def polls(
    client: aioredis.Redis, keys: Keys, feeds: Sequence[FeedConfig]
) -> list[tuple[str, float | None, str]]:
    """Each feed's last poll, for `relay status`: url, seconds ago (None: never), outcome."""
    out: list[tuple[str, float | None, str]] = []
    for feed in feeds:
        http, _ = await FeedState(client, keys, feed).load() if feed.enabled else ({}, {})
        if not feed.enabled:
            out.append((feed.url, None, "off (enabled: false)"))
            continue
        ago = time.time() - float(http["polled_at"]) if "polled_at" in http else None
        out.append((feed.url, ago, http.get("outcome", "")))
    return out


def _differs(latest: Update, wanted: Update) -> bool:
    return any(getattr(latest, f) != getattr(wanted, f) for f in CONTENT)


async def follow(
    feeds: Sequence[FeedConfig], ingest: Ingest, claims: Claims, client: aioredis.Redis,
    keys: Keys, stop: asyncio.Event,
) -> None:  # fmt: skip
    """Follow every configured feed until `stop` (a part of `relay run`)."""
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as http, asyncio.TaskGroup() as group:
        for feed in (f for f in feeds if f.enabled):
            follower = FeedFollower(feed, ingest, claims, FeedState(client, keys, feed), http)
            group.create_task(follower.run(stop), name=f"feed {feed.url}")
