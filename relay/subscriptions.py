"""Subscriptions: topic → destinations and destination → topics, both kept in Redis sets.

With them, the bot each destination is bound to (`telegram.bots`, `discord.bots`): the bot a
chat subscribed through, or a config channel's `bot:`. The latest binding wins (a chat that
subscribes through a second bot receives everything through that one), and it goes when the
destination's last topic does. A destination bound to no bot is served by the platform's first.

On a single server both directions are written in one transaction. On a cluster each set is in
a slot of its own, so they are written in one pipeline without MULTI: every write is an
idempotent SADD or SREM, written subscribers first, so a crash half way leaves at worst a
subscription that the chat's retry of the command completes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from relay.chat_settings import ChatSettings
from relay.config import ChannelConfig
from relay.errors import InvalidUpdate
from relay.i18n import N_
from relay.keys import Keys, as_str, as_text, shard_of
from relay.model import NOT_A_SLUG, SLUG_PATTERN, Destination

log = logging.getLogger(__name__)

# A subscriber-set member that is no destination, as Redis holds it, and why.
Unreadable = tuple[bytes | str, str]


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def _sort(members: Iterable[Any]) -> tuple[list[Destination], list[Unreadable]]:
    """Parse set members into destinations, keeping those that fail apart with the reason."""
    good: list[Destination] = []
    bad: list[Unreadable] = []
    for member in members:
        try:
            good.append(Destination.parse(as_str(member)))
        except UnicodeDecodeError:
            bad.append((member, "not UTF-8"))
        except InvalidUpdate as exc:
            bad.append((member, f"no destination ({exc.message})"))
    return good, bad


class Subscriptions:
    """Who receives which topic. Both directions are written together (see above)."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self.atomic = not isinstance(client, RedisCluster)  # MULTI across slots: not there
        self.settings = ChatSettings(client, keys)  # per topic: they go with its subscription

    def _destinations(self, dest: Destination | str | bytes) -> str:
        """The shard of the set of subscribed destinations that holds `dest`."""
        text = dest.decode(errors="replace") if isinstance(dest, bytes) else str(dest)
        return self.keys.destinations(shard_of(text, self.keys.shards))

    async def subscribe(
        self, dest: Destination, topics: Iterable[str], bot: str | None = None
    ) -> list[str]:
        """Subscribe `dest` to `topics`, bound to `bot` if named; return the topics that were new.

        `dest` is valid by construction (`Destination` checks itself); a topic must be a slug.
        Anything else is refused with `InvalidUpdate` and nothing is stored.
        """
        topics = list(dict.fromkeys(topics))
        if not topics:
            raise InvalidUpdate("topics", N_("name at least one topic"))
        for topic in topics:
            if not isinstance(topic, str) or not SLUG_PATTERN.match(topic):
                raise InvalidUpdate("topics", NOT_A_SLUG, topic=str(topic)[:60])
        key = str(dest)
        async with self.client.pipeline(transaction=self.atomic) as pipe:
            for topic in topics:
                pipe.sadd(self.keys.topic_subscribers(topic), key)
            pipe.sadd(self.keys.destination_topics(key), *topics)
            pipe.sadd(self._destinations(key), key)
            if bot:
                pipe.set(self.keys.bound_bot(key), bot)
            added = (await pipe.execute())[: len(topics)]
        new = [t for t, n in zip(topics, added, strict=True) if n]
        if new:
            log.info("subscribed dest=%s topics=%s", dest, ",".join(new))
        return new

    async def unsubscribe(
        self, dest: Destination, topics: Iterable[str] | None = None
    ) -> list[str]:
        """Unsubscribe `dest` from `topics` (all when None); return the topics removed."""
        key = str(dest)
        current = await self.topics(dest)
        wanted = current if topics is None else [t for t in dict.fromkeys(topics) if t in current]
        if not wanted:
            return []
        async with self.client.pipeline(transaction=self.atomic) as pipe:
            for topic in wanted:
                pipe.srem(self.keys.topic_subscribers(topic), key)
            pipe.srem(self.keys.destination_topics(key), *wanted)
            self.settings.forget_in(pipe, key, None if len(wanted) == len(current) else wanted)
            await pipe.execute()
        if len(wanted) == len(current):
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.srem(self._destinations(key), key)
                pipe.delete(self.keys.bound_bot(key))
                await pipe.execute()
        log.info("unsubscribed dest=%s topics=%s", dest, ",".join(wanted))
        return wanted

    async def bot(self, dest: Destination) -> str:
        """The bot `dest` is bound to ("": none, the platform's first bot serves it)."""
        return self.parse_bot(await self.client.get(self.keys.bound_bot(str(dest))))

    def bot_in(self, pipe: Any, dest: Destination) -> None:
        """Queue `bot` on `pipe` (to share a round trip); `parse_bot` its result."""
        pipe.get(self.keys.bound_bot(str(dest)))

    @staticmethod
    def parse_bot(raw: Any) -> str:
        return "" if raw is None else as_text(raw)

    async def topics(self, dest: Destination) -> list[str]:
        """The topics `dest` receives, sorted."""
        members = await self.client.smembers(self.keys.destination_topics(str(dest)))
        return sorted(as_str(m) for m in members)

    async def destinations(self, topic: str, batch: int = 500) -> AsyncIterator[list[Destination]]:
        """The destinations of `topic`, in batches read with SSCAN (never the whole set)."""
        cursor: int = 0
        while True:
            cursor, members = await self.client.sscan(
                self.keys.topic_subscribers(topic), cursor=cursor, count=batch
            )
            if members:
                yield [Destination.parse(as_str(m)) for m in members]
            if cursor == 0:
                return

    async def scan(
        self, topic: str, cursor: int, count: int
    ) -> tuple[int, list[Destination], list[Unreadable]]:
        """One SSCAN step over `topic`'s destinations: (next cursor, 0 when done; a batch;
        the members in it that are no destination, with why).

        A fan-out saves the cursor after each batch, so a crash resumes where it stopped.
        """
        cursor, members = await self.client.sscan(
            self.keys.topic_subscribers(topic), cursor=cursor, count=count
        )
        good, bad = _sort(members)
        return cursor, good, bad

    def drop_unreadable_in(self, pipe: Any, topic: str, member: bytes | str) -> None:
        """Queue the removal of a member of `topic` that is no destination (found by `scan`).

        It was written around `subscribe` (or by an older version): it can never be served.
        """
        pipe.srem(self.keys.topic_subscribers(topic), member)
        pipe.srem(self._destinations(member), member)
        if isinstance(member, str) or _utf8(member):  # else no key name was made from it
            pipe.srem(self.keys.destination_topics(as_str(member)), topic)

    async def count(self, topic: str) -> int:
        return int(await self.client.scard(self.keys.topic_subscribers(topic)))

    async def destination_count(self) -> int:
        """How many destinations have at least one subscription."""
        async with self.client.pipeline(transaction=False) as pipe:
            for shard in range(self.keys.shards):
                pipe.scard(self.keys.destinations(shard))
            return sum(int(n) for n in await pipe.execute())

    async def move(self, old: Destination, new: Destination) -> list[str]:
        """Re-key every subscription of `old` to `new` (a group upgraded to a supergroup), with
        its settings."""
        topics = await self.topics(old)
        if topics:
            await self.subscribe(new, topics, await self.bot(old) or None)
            settings = await self.settings.get(old)
            async with self.client.pipeline(transaction=False) as pipe:
                self.settings.set_many_in(pipe, new, settings)
                await pipe.execute()
            await self.unsubscribe(old)
        log.info("moved dest=%s to=%s topics=%s", old, new, ",".join(topics))
        return topics

    async def sync_config(self, channels: Iterable[ChannelConfig]) -> tuple[int, int]:
        """Make the config's channels subscribed; drop what an earlier config had and this lacks.

        Returns (added, removed). Subscriptions made by chat commands are never touched. A
        channel that names its `bot` is bound to it (again, at every start).
        """
        channels = list(channels)
        wanted = {f"{c.destination}|{t}" for c in channels for t in c.topics}
        before = {as_str(m) for m in await self.client.smembers(self.keys.config_channels)}
        added = removed = 0
        for pair in sorted(wanted - before):
            dest, topic = pair.rsplit("|", 1)
            added += len(await self.subscribe(Destination.parse(dest), [topic]))
        for pair in sorted(before - wanted):
            dest, topic = pair.rsplit("|", 1)
            removed += len(await self.unsubscribe(Destination.parse(dest), [topic]))
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.config_channels)
            if wanted:
                pipe.sadd(self.keys.config_channels, *wanted)
            await pipe.execute()
        async with self.client.pipeline(transaction=False) as pipe:
            for channel in channels:  # not in that transaction: each key has its own hash tag
                if channel.bot:
                    pipe.set(self.keys.bound_bot(str(channel.destination)), channel.bot)
            await pipe.execute()
        return added, removed
