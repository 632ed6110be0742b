"""Every Redis key the relay uses, in one place, grouped by the one module that owns each.

Keys that one Lua script or transaction touches together share a hash tag (`{…}`), so the
data set runs on Redis Cluster: the update registry and the updates stream share `{u}`;
each topic's subscriber set and each destination's topic set carry their own tag.

What every delivery touches and no one destination owns (the ready set, the wake-up channel,
the set of subscribed destinations) is split in `shards` keys, each with its own tag (`{r3}`),
by the hash slot of the destination: no single key (or node of a cluster) carries every
delivery. With one shard (the default on a single server) they keep their unsharded names.

Only a key's owner module sends commands on it; every other module calls the owner's methods
(`tests/test_ownership.py` enforces it). An owner may add commands to a pipeline another module
executes, so writes of several owners still share one round trip or one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.crc import key_slot


def as_str(value: Any) -> str:
    """A Redis reply value (bytes with the default client) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def as_text(value: Any) -> str:
    """A reply value that may hold any bytes, as text: what is not UTF-8 shows as `\\x..`.

    For what the relay did not write itself (a raw XADD, a hand-edited set): reading it must
    never raise, so that it can be dead-lettered with its reason.
    """
    if isinstance(value, bytes):
        return value.decode(errors="backslashreplace")
    return str(value)


def shard_of(destination: str, shards: int) -> int:
    """The shard of a destination: its hash slot, modulo the number of shards."""
    return key_slot(destination.encode()) % shards if shards > 1 else 0


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix (`redis.key_prefix`, default `relay`)."""

    prefix: str = "relay"
    shards: int = 1  # `redis.shards`: the same in every worker

    def _sharded(self, name: str, shard: int) -> str:
        return f"{self.prefix}:{name}" if self.shards == 1 else f"{self.prefix}:{{r{shard}}}:{name}"

    # relay/stream.py -----------------------------------------------------------------------

    @property
    def updates(self) -> str:
        """The stream every accepted update enters."""
        return f"{self.prefix}:{{u}}:updates"

    @property
    def group(self) -> str:
        """The consumer group of the dispatchers."""
        return "dispatchers"

    @property
    def entry_errors(self) -> str:
        """Hash stream entry id → the last error that kept it from being acknowledged."""
        return f"{self.prefix}:{{u}}:entry_errors"

    @property
    def fanout_cursors(self) -> str:
        """Hash stream entry id → SSCAN cursor of its fan-out, so a crash resumes there."""
        return f"{self.prefix}:{{u}}:fanout"

    # relay/dead_letters.py -----------------------------------------------------------------

    @property
    def dead_letters(self) -> str:
        """Stream entries that could not be parsed or kept failing, with the reason."""
        return f"{self.prefix}:{{u}}:dead"

    # relay/registry.py ---------------------------------------------------------------------

    def update(self, update_id: str) -> str:
        """Hash with the latest accepted revision of one update (for edit and delete)."""
        return f"{self.prefix}:{{u}}:update:{update_id}"

    @property
    def recent_updates(self) -> str:
        """Sorted set update id → when it was first accepted (µs), whatever posted it: the
        newest `registry.RECENT` publishes, for the desk's list."""
        return f"{self.prefix}:{{u}}:recent"

    # relay/subscriptions.py ----------------------------------------------------------------

    def topic_subscribers(self, topic: str) -> str:
        return f"{self.prefix}:{{t:{topic}}}:subscribers"

    def destination_topics(self, destination: str) -> str:
        return f"{self.prefix}:{{d:{destination}}}:topics"

    def bound_bot(self, destination: str) -> str:
        """The name of the platform's bot a destination is bound to (absent: the first bot)."""
        return f"{self.prefix}:{{d:{destination}}}:bot"

    # relay/chat_settings.py ----------------------------------------------------------------

    def chat_settings(self, destination: str) -> str:
        """Hash topic → JSON of a destination's settings of it that are not the defaults."""
        return f"{self.prefix}:{{d:{destination}}}:settings"

    # relay/subscriptions.py (continued) ----------------------------------------------------

    def destinations(self, shard: int = 0) -> str:
        """Set of the destinations of a shard with at least one subscription (for status)."""
        return self._sharded("destinations", shard)

    @property
    def config_channels(self) -> str:
        """Set of `destination|topic` pairs the config subscribed (synced at start-up)."""
        return f"{self.prefix}:config_channels"

    # relay/ledger.py -----------------------------------------------------------------------

    def ledger(self, update_id: str) -> str:
        """Hash destination → JSON {revision, message ids} of the copies of one update."""
        return f"{self.prefix}:{{l:{update_id}}}:ledger"

    def targets(self, update_id: str) -> str:
        """Set of destinations an update was queued for (edits and deletes go to these)."""
        return f"{self.prefix}:{{l:{update_id}}}:targets"

    def target_counts(self, update_id: str) -> str:
        """Hash platform → how many of the targets are on it (progress totals per platform)."""
        return f"{self.prefix}:{{l:{update_id}}}:target_counts"

    def progress(self, update_id: str) -> str:
        """Hash {revision, total, delivered, failed, done} of an update's latest fan-out."""
        return f"{self.prefix}:{{l:{update_id}}}:progress"

    def progress_counted(self, update_id: str) -> str:
        """Set of the destinations whose outcome the latest fan-out's progress counted."""
        return f"{self.prefix}:{{l:{update_id}}}:progress_counted"

    @property
    def progress_index(self) -> str:
        """Sorted set update id → when its latest fan-out began (ms): the ones maybe in flight,
        for `relay status` (trimmed when read, capped)."""
        return f"{self.prefix}:progress_index"

    # relay/queues.py -----------------------------------------------------------------------

    def queue(self, destination: str) -> str:
        """Sorted set of update ids waiting for one destination, by stream position."""
        return f"{self.prefix}:{{q:{destination}}}:queue"

    def queue_versions(self, destination: str) -> str:
        """Hash update id → version of the queued job (changes when an edit merges in)."""
        return f"{self.prefix}:{{q:{destination}}}:versions"

    def attempts(self, destination: str) -> str:
        """Hash update id → failed attempts so far at one destination."""
        return f"{self.prefix}:{{q:{destination}}}:attempts"

    def lease(self, destination: str) -> str:
        """The worker serving a destination right now (expires unless renewed)."""
        return f"{self.prefix}:{{q:{destination}}}:lease"

    def ready(self, shard: int = 0) -> str:
        """Sorted set destination → time (ms) it may next be served, of one shard."""
        return self._sharded("ready", shard)

    def wake(self, shard: int = 0) -> str:
        """Pub/sub channel (sharded pub/sub on a cluster): new work was queued. Senders listen
        on every shard's: a wake-up on any one wakes them all."""
        return self._sharded("wake", shard)

    # relay/media.py ------------------------------------------------------------------------

    def media(self, media_id: str) -> str:
        """A stored photo's bytes (`relay.media`), expiring with the ledger."""
        return f"{self.prefix}:{{media}}:photo:{media_id}"

    @property
    def media_index(self) -> str:
        """Sorted set media id → expiry (epoch seconds): what the store's total still counts."""
        return f"{self.prefix}:{{media}}:index"

    @property
    def media_sizes(self) -> str:
        """Hash media id → size in bytes of every stored photo, for the store's total."""
        return f"{self.prefix}:{{media}}:sizes"

    # relay/budgets.py ----------------------------------------------------------------------

    def budget(self, budget_key: str) -> str:
        """A budget's theoretical arrival time (µs), one hash tag per bot:
        `telegram:123:chat:-5` → `relay:{b:telegram:123}:chat:-5`."""
        platform, bot, *rest = budget_key.split(":")
        return f"{self.prefix}:{{b:{platform}:{bot}}}:{':'.join(rest) or 'global'}"

    # relay/workers.py ----------------------------------------------------------------------

    def worker(self, name: str) -> str:
        """Hash {host, pid, started, seen} of one running worker; expires unless it beats."""
        return f"{self.prefix}:{{w}}:worker:{name}"

    @property
    def workers(self) -> str:
        """Sorted set worker name → last heartbeat (ms, server clock): who may be alive."""
        return f"{self.prefix}:{{w}}:workers"

    # relay/claims.py -----------------------------------------------------------------------

    def poller(self, platform: str, bot_id: str) -> str:
        """The lease of the one worker long-polling a bot for chat input."""
        return f"{self.prefix}:{platform}:{bot_id}:poller"

    def interaction(self, platform: str, interaction_id: str) -> str:
        """The claim of the one worker answering a chat interaction (expires with its token)."""
        return f"{self.prefix}:{platform}:interaction:{interaction_id}"

    def delivered_update(self, platform: str, bot_id: str, update_id: int) -> str:
        """The claim of the one worker processing a bot's update posted to its webhook."""
        return f"{self.prefix}:{platform}:{bot_id}:update:{update_id}"

    # relay/feeds.py ------------------------------------------------------------------------

    def feed_entries(self, feed: str) -> str:
        """Hash entry key → fingerprint and date of what the feed's last poll found."""
        return f"{self.prefix}:{{f:{feed}}}:entries"

    def feed_http(self, feed: str) -> str:
        """Hash of the feed's ETag, Last-Modified, last poll time and outcome."""
        return f"{self.prefix}:{{f:{feed}}}:http"

    # relay/schedule.py ---------------------------------------------------------------------

    @property
    def scheduled(self) -> str:
        """Sorted set update id → when it is due (ms): the updates waiting for `publish_at`."""
        return f"{self.prefix}:{{s}}:scheduled"

    @property
    def scheduled_updates(self) -> str:
        """Hash update id → the scheduled update's payload."""
        return f"{self.prefix}:{{s}}:scheduled_updates"

    @property
    def firing(self) -> str:
        """Hash update id → claimed ms and payload: due, being published by a worker."""
        return f"{self.prefix}:{{s}}:firing"

    # relay/recent.py -----------------------------------------------------------------------

    def editor_recent(self, editor: str) -> str:
        """Sorted set update id → when an editor (`<platform>:<user id>`) posted it from a chat
        (ms): their last few, for `/recent`."""
        return f"{self.prefix}:recent:{editor}"

    # relay/desk/store.py -------------------------------------------------------------------

    def desk_session(self, digest: str) -> str:
        """Hash {editor, csrf} of one desk session, named by the SHA-256 of its cookie's token
        (a copy of the data opens no session); expires when the session does."""
        return f"{self.prefix}:desk:session:{digest}"

    def desk_failures(self, digest: str) -> str:
        """Sign-in attempts this minute for one editor name (its SHA-256) since its last
        success; expires."""
        return f"{self.prefix}:desk:failures:{digest}"

    @property
    def desk_recent(self) -> str:
        """Sorted set update id → when the desk posted or scheduled it (µs): its list, capped."""
        return f"{self.prefix}:desk:recent"
