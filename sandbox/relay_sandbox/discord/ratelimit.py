"""Discord-style rate limits: a global per-bot limit and per-route, per-resource buckets."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class BucketLimit:
    """`limit` requests per window of `per` seconds."""

    limit: int
    per: float


@dataclass(frozen=True)
class DiscordLimits:
    """Every limit the emulator enforces; the defaults follow Discord's documented/observed ones."""

    enabled: bool = True
    global_limit: BucketLimit = BucketLimit(50, 1.0)
    buckets: dict[str, BucketLimit] = field(
        default_factory=lambda: {
            "create": BucketLimit(5, 5.0),  # per channel
            "edit": BucketLimit(5, 5.0),
            "delete": BucketLimit(5, 1.0),
            "crosspost": BucketLimit(10, 3600.0),  # community: ~10 publishes/hour/channel
            "webhook": BucketLimit(5, 2.0),  # per webhook (Discord staff, api-docs #367)
            "interaction": BucketLimit(50, 1.0),
            "default": BucketLimit(50, 1.0),
        }
    )

    @classmethod
    def off(cls) -> DiscordLimits:
        """No limits at all: for capacity benchmarks."""
        return cls(enabled=False)

    def with_bucket(self, name: str, limit: int, per: float) -> DiscordLimits:
        """A copy with one bucket changed."""
        return replace(self, buckets={**self.buckets, name: BucketLimit(limit, per)})

    def bucket(self, name: str) -> BucketLimit:
        return self.buckets.get(name) or self.buckets["default"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one request against its bucket: headers to send, and 429 details."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float
    reset_after: float
    bucket_hash: str
    is_global: bool = False
    retry_after: float = 0.0

    def headers(self) -> dict[str, str]:
        h = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": f"{self.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{self.reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash,
        }
        if not self.allowed:
            h["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
            h["X-RateLimit-Global"] = "true" if self.is_global else "false"
            h["X-RateLimit-Scope"] = "global" if self.is_global else "user"
            h["Via"] = "1.1 google"  # discord.py treats a 429 without Via as a Cloudflare ban
        return h

    def body(self) -> dict[str, object]:
        return {
            "message": "You are being rate limited.",
            "retry_after": round(self.retry_after, 3),
            "global": self.is_global,
        }


@dataclass
class _Window:
    """A fixed window that opens with its first request, like Discord's buckets."""

    started: float
    used: int = 0


def bucket_hash(name: str) -> str:
    """A stable opaque hash per route bucket, shared by every channel (major parameter)."""
    return hashlib.sha1(name.encode()).hexdigest()[:16]


class RateLimiter:
    """Counts requests per (bot, bucket, major parameter) and globally per bot."""

    def __init__(self, limits: DiscordLimits, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self.clock = clock
        self._windows: dict[tuple[str, ...], _Window] = {}

    def _window(self, key: tuple[str, ...], per: float, now: float) -> _Window:
        w = self._windows.get(key)
        if w is None or now >= w.started + per:
            w = _Window(started=now)
            self._windows[key] = w
        return w

    def check(self, *, bot: str, bucket: str, major: str, global_limit: bool) -> Verdict:
        """Count one request; return whether it may proceed and the headers it gets."""
        now = self.clock()
        spec = self.limits.bucket(bucket)
        digest = bucket_hash(bucket)
        if not self.limits.enabled:
            return Verdict(True, spec.limit, spec.limit, now + spec.per, spec.per, digest)
        if global_limit and bot:
            g = self.limits.global_limit
            gw = self._window(("global", bot), g.per, now)
            if gw.used >= g.limit:
                reset = gw.started + g.per
                return Verdict(
                    False, g.limit, 0, reset, reset - now, digest, True, retry_after=reset - now
                )
        w = self._window((bot, bucket, major), spec.per, now)
        reset = w.started + spec.per
        if w.used >= spec.limit:
            return Verdict(
                False, spec.limit, 0, reset, reset - now, digest, retry_after=reset - now
            )
        w.used += 1
        if global_limit and bot:
            self._windows[("global", bot)].used += 1
        return Verdict(True, spec.limit, spec.limit - w.used, reset, reset - now, digest)
