"""Riding out a Redis outage: which errors mean Redis is away, and backing off until it is back."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.exceptions as redis_exceptions

log = logging.getLogger(__name__)


# Errors meaning Redis itself is unreachable (as opposed to refusing one command); on a cluster
# also a master failing over: its slots are down, or not served by anyone yet, for a moment.
UNREACHABLE = (
    redis_exceptions.ConnectionError,
    redis_exceptions.TimeoutError,
    OSError,
    redis_exceptions.ClusterDownError,
    redis_exceptions.TryAgainError,
    redis_exceptions.SlotNotCoveredError,
)


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that a library swallowed (the task still says `cancelling`).

    redis-py can absorb a `CancelledError` that lands in the middle of a command; a loop that
    only waited for the exception would then run on after its task was cancelled.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Outage:
    """Waits out a Redis outage with capped exponential backoff, logging once per outage."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.delay = 0.0

    async def wait(self, exc: BaseException, stop: asyncio.Event) -> None:
        raise_if_cancelled()
        if self.delay == 0:
            log.warning("%s: Redis unavailable, retrying: %s", self.who, exc)
        self.delay = min(5.0, max(0.1, self.delay * 2))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.delay)

    def over(self) -> None:
        if self.delay:
            log.warning("%s: Redis is back", self.who)
        self.delay = 0.0
