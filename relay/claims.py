"""Work only one of several workers may do: poll a bot for chat input, answer an interaction.

Every worker sharing a bot token runs the same adapters, but some work must happen once:
Telegram answers a second concurrent getUpdates with 409 Conflict, so only the holder of a
poll lease long-polls, or in webhook mode sets the webhook (another takes over when it stops
renewing); every worker's Discord gateway receives every interaction, so only the worker that
claims it first answers it (the others would fail with 40060 "already acknowledged"); a
Telegram webhook posts an update to any worker behind its URL, and again on a retry, so only
the worker that claims the update first processes it: it holds a short lease while it works
(a retry meanwhile is told to come back) and marks the update done after, so a worker that died
mid-way lets a later retry process it. Adapters get `Claims` through
`relay.adapter.AdapterContext`.
"""

from __future__ import annotations

import logging
import secrets

import redis.asyncio as aioredis

from relay.keys import Keys, as_str
from relay.scripts import Script

log = logging.getLogger(__name__)
WORKING, DONE = "working", "done"  # the states of a claimed webhook update

# KEYS[1]: the lease. ARGV: owner, ttl ms. Renew only a lease we still hold.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class PollLease:
    """A lease on `key`, held by this process for `ttl` seconds at a time."""

    def __init__(self, client: aioredis.Redis, key: str, ttl: float = 15.0) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = max(1, int(ttl * 1000))
        self.owner = secrets.token_hex(8)
        self._renew = Script(client, _RENEW)
        self._release = Script(client, _RELEASE)

    async def hold(self) -> bool:
        """Take the lease if free, or renew it if ours; True while we hold it."""
        if await self.client.set(self.key, self.owner, nx=True, px=self.ttl_ms):
            return True
        return bool(await self._renew(keys=[self.key], args=[self.owner, self.ttl_ms]))

    async def release(self) -> None:
        """Give the lease up so another worker takes over at once."""
        await self._release(keys=[self.key], args=[self.owner])


class Claims:
    """Hands out poll leases and interaction claims, shared by every worker through Redis."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def poll_lease(self, platform: str, bot_id: str, ttl: float = 15.0) -> PollLease:
        """The lease on long-polling bot `bot_id` (one per bot, whatever the worker)."""
        return PollLease(self.client, self.keys.poller(platform, bot_id), ttl)

    async def claim_interaction(self, platform: str, interaction_id: str, ttl: float) -> bool:
        """True for the first worker to claim the interaction within `ttl` seconds; then False."""
        key = self.keys.interaction(platform, interaction_id)
        return bool(await self.client.set(key, 1, nx=True, ex=max(1, int(ttl))))

    async def claim_update(
        self, platform: str, bot_id: str, update_id: int, lease: float
    ) -> str | None:
        """Claim bot `bot_id`'s update for `lease` seconds: None when this worker got it, else
        what the holder said: `WORKING` (its lease runs) or `DONE` (`finish_update`)."""
        key = self.keys.delivered_update(platform, bot_id, update_id)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(key, WORKING, nx=True, ex=max(1, int(lease)))
            pipe.get(key)
            claimed, held = await pipe.execute()
        # Not claimed and gone by the GET: its lease ran out in between; answer as if it ran.
        return None if claimed else as_str(held) if held is not None else WORKING

    async def finish_update(self, platform: str, bot_id: str, update_id: int, ttl: float) -> None:
        """Mark a claimed update processed, for `ttl` seconds (longer than its sender retries)."""
        key = self.keys.delivered_update(platform, bot_id, update_id)
        await self.client.set(key, DONE, ex=max(1, int(ttl)))
