"""The sender: serves destinations whose budget is open, one worker per destination at a time.

Each worker loops: take due destinations from the ready set, lease each one, and bring its
copies up to date job by job (`relay.sync`). A closed budget reschedules only that destination,
so a group held to 20 messages a minute never delays the other chats. A dead worker's leases
expire and its destinations come due again for the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping

import redis.asyncio as aioredis

from relay.adapter import Adapter
from relay.budgets import Budgets
from relay.coalesce import Coalesced
from relay.config import Config
from relay.dead_letters import DeadLetters
from relay.keys import Keys
from relay.ledger import Ledger, ProgressBook
from relay.model import Destination
from relay.queues import Queues
from relay.registry import Registry
from relay.stream import UNREACHABLE, Outage, Stream, raise_if_cancelled
from relay.subscriptions import Subscriptions
from relay.sync import Syncer

log = logging.getLogger(__name__)
JOBS_PER_LEASE = 20  # then yield the destination back, so a long queue cannot hog a slot
IDLE_WAIT = 1.0
CLAIM_SPARE = 4


class Sender:
    """One worker's share of the delivery work."""

    def __init__(
        self, client: aioredis.Redis, config: Config, adapters: Mapping[str, Adapter], worker: str
    ) -> None:
        if isinstance(client, aioredis.Redis):  # not on a cluster: one pool, one server
            client = Coalesced(client)  # concurrent deliveries share their round trips
        self.client = client
        self.config = config
        self.settings = config.dispatcher
        keys = Keys(config.redis.key_prefix, config.redis.shards)
        self.worker = worker
        self.queues = Queues(client, keys)
        ttl = int(self.settings.ledger_ttl_days * 86400)
        self.syncer = Syncer(
            client=client,
            config=config,
            adapters=adapters,
            registry=Registry(client, keys),
            queues=self.queues,
            ledger=Ledger(client, keys, ttl),
            progress=ProgressBook(client, keys, ttl),
            budgets=Budgets(client, keys),
            subscriptions=Subscriptions(client, keys),
            stream=Stream(client, keys, worker),
            dead_letters=DeadLetters(client, keys),
        )
        self._kick = asyncio.Event()
        self._active: dict[Destination, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Serve destinations until `stop`; then let the ones in hand finish their job."""
        listener = asyncio.create_task(self._listen(stop), name="sender-wake")
        stopper = asyncio.create_task(self._wake_on(stop), name="sender-stop")
        outage = Outage("sender")
        try:
            while not stop.is_set():
                raise_if_cancelled()
                try:
                    timeout = await self._claim(stop)
                    outage.over()
                except UNREACHABLE as exc:
                    await outage.wait(exc, stop)
                    continue
                if timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._kick.wait(), timeout)
                self._kick.clear()
        finally:
            listener.cancel()
            stopper.cancel()
            if self._active:
                await asyncio.gather(*self._active.values(), return_exceptions=True)

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._kick.set()

    async def _listen(self, stop: asyncio.Event) -> None:
        """Wake the loop as soon as any worker's fan-out queues work."""
        outage = Outage("sender wake-ups")
        while not stop.is_set():
            try:
                async with self.queues.ready.wake_ups() as wake_ups:
                    outage.over()
                    while not stop.is_set():
                        raise_if_cancelled()
                        if await wake_ups.wait(1.0):
                            self._kick.set()
            except UNREACHABLE as exc:
                await outage.wait(exc, stop)

    async def _claim(self, stop: asyncio.Event) -> float:
        """Lease destinations whose turn has come; return how long to wait before looking again
        (a finished destination or a wake-up ends the wait sooner)."""
        free = self.settings.concurrency - len(self._active)
        if free <= 0:
            return IDLE_WAIT  # every slot is busy: the next to finish kicks the loop
        # A few more than there is room for: some may be ours already, in hand.
        due, later = await self.queues.ready.turns(free + CLAIM_SPARE)
        wanted = [dest for dest in due if dest not in self._active][:free]
        if stop.is_set() or not wanted:
            return IDLE_WAIT if later is None else min(later, IDLE_WAIT)
        got = await self.queues.lease_many(wanted, self.worker, self.settings.lease_seconds)
        for dest, ours in zip(wanted, got, strict=True):
            if ours and not stop.is_set():
                task = asyncio.create_task(self._serve(dest, stop), name=f"serve {dest}")
                self._active[dest] = task
        if not all(got) and len(self._active) < self.settings.concurrency:
            return 0.0  # other workers took some: look again for the next due ones
        return IDLE_WAIT if later is None else min(later, IDLE_WAIT)

    async def _renew(self, dest: Destination, seconds: float) -> None:
        """Hold the lease through a wait of `seconds` for a reserved slot (one call per wait)."""
        if not await self.queues.lease(dest, self.worker, seconds + self.settings.lease_seconds):
            log.warning("lease lost while pacing dest=%s worker=%s", dest, self.worker)

    async def _serve(self, dest: Destination, stop: asyncio.Event) -> None:
        ttl = self.settings.lease_seconds
        leased_at = time.monotonic()  # _claim just took the lease
        held = True
        then: float | None = 0.0  # seconds until it is due again (None: its queue is empty)
        try:
            for _ in range(JOBS_PER_LEASE):  # then back of the line, others first
                raise_if_cancelled()
                if stop.is_set():
                    break
                if time.monotonic() - leased_at > ttl / 3:
                    if not await self.queues.lease(dest, self.worker, ttl):
                        held = False  # our lease expired and another worker took over
                        return
                    leased_at = time.monotonic()
                then = await self.syncer.step(dest, lambda s: self._renew(dest, s))
                if then is None or then > 0:
                    break
        except UNREACHABLE as exc:
            # Redis is away: the lease runs out and the destination comes due again.
            log.warning("serving interrupted dest=%s worker=%s: %s", dest, self.worker, exc)
            held = False
        except Exception:
            log.exception("serving failed dest=%s worker=%s", dest, self.worker)
            then = 1.0
        finally:
            if held:  # released before it is due again, so a worker that finds it due can take it
                with contextlib.suppress(*UNREACHABLE):
                    if then is None:
                        await self.queues.release_if_empty(dest, self.worker)
                    else:
                        await self.queues.release_and_schedule(dest, self.worker, then)
            self._active.pop(dest, None)
            self._kick.set()
