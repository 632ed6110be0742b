"""One long-poller per bot token: a Redis lease picks the worker that calls getUpdates.

Telegram answers a second concurrent getUpdates with 409 Conflict, so of several workers
sharing a token only the lease holder polls; the others take over when it stops renewing.
"""

from __future__ import annotations

import logging
import secrets

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

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
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    async def hold(self) -> bool:
        """Take the lease if free, or renew it if ours; True while we hold it."""
        if await self.client.set(self.key, self.owner, nx=True, px=self.ttl_ms):
            return True
        return bool(await self._renew(keys=[self.key], args=[self.owner, self.ttl_ms]))

    async def release(self) -> None:
        """Give the lease up so another worker takes over at once."""
        await self._release(keys=[self.key], args=[self.owner])
