"""Rate budgets shared by every worker: GCRA in one Lua script, on the Redis server's clock.

A send spends from several budgets at once (Telegram: the bot's global 30/s, the chat's 1/s,
the group's 20/min). The script checks them all and spends from all or none, so a send that
one budget refuses costs nothing from the others. Each budget stores one number, its
theoretical arrival time (TAT) in microseconds; the burst tolerance lets `burst` sends through
at once. A send of several parts (`weight`) goes when the budget is open and leaves it in debt
for the sends after it: a weight above the burst could otherwise never be admitted, and the
long-run rate holds either way. All keys of one bot share a hash tag, so the script runs on
Redis Cluster too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis.asyncio as aioredis

from relay.adapter import Budget
from relay.keys import Keys

log = logging.getLogger(__name__)

# KEYS: budget keys. ARGV: weight, then per key: emission interval (µs), burst tolerance (µs).
# Returns 0 when spent, else the microseconds to wait before all budgets would allow it.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local weight = tonumber(ARGV[1])
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i]) * weight
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local allow_at = tat - tolerance
  if allow_at > now and allow_at - now > wait then wait = allow_at - now end
  tats[i] = tat + interval
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local ttl = math.ceil((tats[i] - now) / 1000) + 1000
  redis.call('SET', key, string.format('%.0f', tats[i]), 'PX', ttl)
end
return 0
"""

# KEYS[1]: a budget key. ARGV: pause (µs), burst tolerance (µs). Never shortens a pause.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_tat = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_tat > tat then
  local ttl = math.ceil((until_tat - now) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.0f', until_tat), 'PX', ttl)
end
return 0
"""


def _interval_us(budget: Budget) -> float:
    return budget.per / budget.rate * 1_000_000


class Budgets:
    """Spends from, and pauses, the budgets in Redis."""

    def __init__(self, client: aioredis.Redis, keys: Keys | None = None) -> None:
        self.client = client
        self.keys = keys if keys is not None else Keys()
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)

    async def acquire(self, budgets: Sequence[Budget], weight: int = 1) -> float:
        """Spend `weight` sends from every budget, or none; return 0, or seconds to wait."""
        if not budgets:
            return 0.0
        keys = [self.keys.budget(b.key) for b in budgets]
        args: list[float] = [weight]
        for b in budgets:
            interval = _interval_us(b)
            args += [interval, interval * max(0, b.burst - 1)]
        wait_us = await self._acquire(keys=keys, args=args)
        return float(wait_us) / 1_000_000

    async def pause(self, budget: Budget, seconds: float) -> None:
        """Hold `budget` closed for `seconds` (a platform's retry_after)."""
        tolerance = _interval_us(budget) * max(0, budget.burst - 1)
        key = self.keys.budget(budget.key)
        await self._pause(keys=[key], args=[seconds * 1_000_000, tolerance])
        log.info("budget paused key=%s seconds=%.3f", budget.key, seconds)
