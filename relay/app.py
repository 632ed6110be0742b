"""The relay's one lifecycle: `async with Relay(config) as relay: await relay.run(stop)`."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
from collections.abc import Collection, Sequence
from importlib.metadata import entry_points
from typing import TextIO

import redis.asyncio as aioredis

from relay import feeds
from relay.adapter import Adapter, AdapterContext, AdapterFactory, Fleet
from relay.api import serve
from relay.backend import Backend
from relay.budgets import Budgets
from relay.claims import Claims
from relay.commands import Commands
from relay.config import Config
from relay.dispatcher import Dispatcher
from relay.errors import ConfigError, RelayError
from relay.ingest import Ingest
from relay.keys import Keys
from relay.media import MediaStore
from relay.schedule import Schedule
from relay.sender import Sender
from relay.stream import UNREACHABLE
from relay.subscriptions import Subscriptions
from relay.workers import Workers

log = logging.getLogger(__name__)


def default_consumer() -> str:
    """A consumer name unique to this process on this host."""
    return f"{socket.gethostname()}-{os.getpid()}"


ADAPTER_ENTRY_POINTS = "live_relay.adapters"


def build_adapters(config: Config, console_out: TextIO | None = None) -> list[Adapter]:
    """The adapters the config enables, each found by platform name among the installed plugins.

    The core never imports an adapter: each registers a factory `(config, out) -> Adapter` in the
    `live_relay.adapters` entry-point group (see pyproject.toml), so adapters depend on the core
    and never the other way.
    """
    enabled = [
        name
        for name, on in (
            ("console", config.console.enabled),
            ("telegram", config.telegram.enabled),
            ("discord", config.discord.enabled),
        )
        if on
    ]
    found = {ep.name: ep for ep in entry_points(group=ADAPTER_ENTRY_POINTS)}
    adapters: list[Adapter] = []
    for name in enabled:
        if name not in found:
            raise ConfigError(
                config.path, f"{name}.enabled", f"an installed {name} adapter (none is registered)"
            )
        factory: AdapterFactory = found[name].load()
        made = factory(config, console_out)  # a platform with several bots: one for each
        adapters.extend(made if isinstance(made, Sequence) else [made])
    return adapters


class Crashed(RelayError):
    """A part of the running relay ended while it should have run: `component` and why."""

    def __init__(self, component: str, reason: str) -> None:
        self.component = component
        self.reason = reason
        super().__init__(f"{component} failed: {reason}")


# Errors that are the world's doing, not a bug: one line says enough (no traceback).
EXPECTED_FAILURES = (RelayError, OSError)


def _why(task: asyncio.Task[None]) -> tuple[str, BaseException | None]:
    """What ended `task`: a reason for humans, and the exception if there was one."""
    if task.cancelled():
        return "cancelled", None
    exc = task.exception()
    if exc is None:
        return "stopped on its own", None
    return (str(exc) if isinstance(exc, RelayError) else f"{type(exc).__name__}: {exc}"), exc


class Relay:
    """Connects Redis, syncs the config's channels, starts adapters and the dispatcher.

    `sync_channels` makes the config's channels the subscriptions of record (adding and
    removing); only a worker (`relay run`) should, never a short-lived command on a host whose
    config may be stale.
    """

    # After a part fails, the others get this long to finish what they hold: a supervisor is
    # waiting to restart the process, and whatever is left pending is claimed again anyway.
    failure_grace = 0.5

    def __init__(
        self,
        config: Config,
        adapters: Sequence[Adapter] | None = None,
        consumer: str | None = None,
        console_out: TextIO | None = None,
        *,
        sync_channels: bool = True,
    ) -> None:
        self.config = config
        self.keys = Keys(config.redis.key_prefix, config.redis.shards)
        self.consumer = consumer or default_consumer()
        self.sync_channels = sync_channels
        self.failed: dict[str, str] = {}  # component → why it died (served by /healthz)
        self.parts: tuple[str, ...] = ()  # what `run` watches (served by /healthz)
        self._adapters = list(adapters) if adapters is not None else None
        self._console_out = console_out
        # Every concurrent send holds at most one connection; leave room for the rest.
        self._backend = Backend(config.redis, config.dispatcher.concurrency + 32)
        self._started: list[Adapter] = []
        self.client: aioredis.Redis
        self.ingest: Ingest
        self.subscriptions: Subscriptions
        self.commands: Commands
        self.dispatcher: Dispatcher
        self.sender: Sender
        self.workers: Workers
        self.claims: Claims
        self.schedule: Schedule
        self.media: MediaStore  # the photos with no public URL, for the adapters and the desk

    @property
    def adapters(self) -> tuple[Adapter, ...]:
        """The started adapters: each tells `/readyz` whether its platform is connected."""
        return tuple(self._started)

    async def __aenter__(self) -> Relay:
        adapters = self._adapters
        if adapters is None:
            adapters = build_adapters(self.config, self._console_out)
        try:
            self.client = await self._backend.__aenter__()
        except ValueError as exc:  # a URL redis-py cannot parse, e.g. redis://[::1
            if self.config.redis.url is None:
                raise
            raise ConfigError(self.config.path, "redis.url", f"a valid URL ({exc})") from None
        try:
            self.ingest = Ingest.from_config(self.client, self.config)
            self.schedule = Schedule(self.client, self.keys, self.ingest)
            self.media = MediaStore.from_config(self.client, self.config)
            self.subscriptions = Subscriptions(self.client, self.keys)
            if self.sync_channels:
                added, removed = await self.subscriptions.sync_config(self.config.channels)
                log.info("config channels synced added=%d removed=%d", added, removed)
            self.commands = Commands(self.config, self.ingest, self.subscriptions)
            self.claims = Claims(self.client, self.keys)
            context = AdapterContext(
                self.commands,
                self.claims,
                self.ingest.registry,
                self.subscriptions,
                Budgets(self.client, self.keys),
                self.media,
            )
            for adapter in adapters:
                self._started.append(adapter)  # closed on the way out, even if half started
                try:
                    await adapter.start(context)
                except RelayError:
                    raise
                except Exception as exc:  # e.g. the platform unreachable: one line, no traceback
                    raise RelayError(f"{adapter.component}: could not start: {exc}") from exc
            log.info("platforms live: %s", ",".join(a.component for a in adapters) or "none")
            by_platform = Fleet(adapters)
            self.dispatcher = Dispatcher(self.client, self.config, self.consumer)
            self.sender = Sender(self.client, self.config, by_platform, self.consumer)
            self.workers = Workers(self.client, self.keys)
            await self.dispatcher.stream.ensure_group()
            # Start-up's objects (modules, clients, config) live as long as the process: frozen
            # out of the collector's way, no full collection scans them again (about 100,000;
            # 35 ms, a stall of every delivery in flight, on the development VM).
            gc.freeze()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def run(self, stop: asyncio.Event) -> None:
        """Fan out, send (and serve the HTTP API, if enabled) until `stop` is set.

        Supervised: if a part (dispatcher, sender, API, an adapter's poller or gateway) ends
        before `stop`, or fails while draining, it is named in `failed` at once (`/healthz`
        answers 503), the rest stop within `failure_grace` seconds, the API last, and `run`
        raises `Crashed`. Redis outages are no failure: the parts ride them out.
        """
        halt, api_halt = asyncio.Event(), asyncio.Event()
        parts = {
            asyncio.create_task(self.dispatcher.run(halt), name="dispatcher"): "dispatcher",
            asyncio.create_task(self.sender.run(halt), name="sender"): "sender",
            asyncio.create_task(self.schedule.run(halt), name="schedule"): "schedule",
            asyncio.create_task(
                self.workers.run(self.consumer, socket.gethostname(), os.getpid(), halt),
                name="heartbeat",
            ): "heartbeat",
        }
        if self.config.feeds:
            following = feeds.follow(self.config.feeds, self.ingest, self.claims, self.client,
                                     self.keys, halt)  # fmt: skip
            parts[asyncio.create_task(following, name="feeds")] = "feeds"
        api: dict[asyncio.Task[None], str] = {}
        if self.config.api.enabled:
            api[asyncio.create_task(serve(self, api_halt), name="api")] = "api"
        watched = {**parts, **api}
        for adapter in self._started:
            watched.update({task: adapter.component for task in adapter.background()})
        self.parts = tuple(dict.fromkeys(watched.values()))
        stopping = asyncio.create_task(stop.wait(), name="stop")
        try:
            await asyncio.wait({*watched, stopping}, return_when=asyncio.FIRST_COMPLETED)
            died = [task for task in watched if task.done()]
            for task in died:
                self._fail(watched[task], task)
            halt.set()
            if died:
                await _finish(parts, self.failure_grace)
            else:  # a stop: drain in-flight work (the CLI bounds it by the grace period)
                await asyncio.wait(parts)
                for task in parts:
                    if task.cancelled() or task.exception() is not None:
                        self._fail(parts[task], task)
                if not self.failed:
                    await self._retire()
            api_halt.set()
            await _finish(api, self.failure_grace)
        finally:
            stopping.cancel()
            halt.set()
            api_halt.set()
            await _finish([*parts, *api], 0)  # cancelled (the grace ran out): stop them all
        if self.failed:
            component, reason = next(iter(self.failed.items()))
            raise Crashed(component, reason)

    async def _retire(self) -> None:
        """A clean stop: leave the live workers, and the consumer group once nothing is lost.

        Entries this worker still holds go to a live worker (any worker's next claim takes
        them); with none alive they stay pending under this consumer, which then stays too.
        """
        try:
            await self.workers.remove(self.consumer)
            heirs = [w.name for w in await self.workers.live() if w.name != self.consumer]
            idle_ms = int(self.config.dispatcher.claim_idle_seconds * 1000)
            left = await self.dispatcher.stream.retire(heirs[0] if heirs else None, idle_ms)
        except UNREACHABLE as exc:
            log.warning("could not leave the consumer group consumer=%s: %s", self.consumer, exc)
            return
        if left:
            log.info("left the consumer group consumer=%s heir=%s", self.consumer,
                     heirs[0] if heirs else "-")  # fmt: skip
        else:
            log.info("no live worker to take over: pending entries stay with consumer=%s "
                     "for the next claim", self.consumer)  # fmt: skip

    def _fail(self, component: str, task: asyncio.Task[None]) -> None:
        """Record and log why `component` ended: readiness turns false before anything stops."""
        if component in self.failed:
            return
        reason, exc = _why(task)
        self.failed[component] = reason
        trace = None if exc is None or isinstance(exc, EXPECTED_FAILURES) else exc
        log.error("%s failed: %s; stopping the relay", component, reason, exc_info=trace)

    async def __aexit__(self, *exc: object) -> None:
        for adapter in reversed(self._started):
            try:
                await adapter.aclose()
            except Exception:
                log.exception("adapter %s failed to close", adapter.component)
        self._started.clear()
        await self._backend.__aexit__(None, None, None)


async def _finish(tasks: Collection[asyncio.Task[None]], within: float) -> None:
    """Wait up to `within` seconds for `tasks`, then cancel what is left and let it unwind."""
    pending = {task for task in tasks if not task.done()}
    if pending and within > 0:
        _, pending = await asyncio.wait(pending, timeout=within)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in tasks:  # what a part raised on its way down follows from the first failure
        if task.done() and not task.cancelled():
            task.exception()


async def run_until(stop: asyncio.Event, config: Config, consumer: str | None = None) -> int:
    """`relay run`: start, run until `stop` (SIGTERM), drain; the process's exit status."""
    relay = Relay(config, consumer=consumer)
    starting = asyncio.create_task(relay.__aenter__())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # a platform slow to answer must not hold a stop back
            starting.cancel()  # start-up closes what it opened on its way out
            await asyncio.wait({starting})
            log.info("stopped during start-up")
            return 0
        starting.result()  # what start-up raised, if it did (it closed what it opened)
        try:
            return await _drained(relay, stop, stopping, config.dispatcher.grace_seconds)
        finally:
            await relay.__aexit__(None, None, None)
    finally:
        stopping.cancel()


async def _drained(
    relay: Relay, stop: asyncio.Event, stopping: asyncio.Task[bool], grace: float
) -> int:
    """Run `relay` until `stopping` ends, then drain for up to `grace` seconds."""
    log.info("running consumer=%s topics=%s", relay.consumer,
             ",".join(relay.config.topic_slugs))  # fmt: skip
    task = asyncio.create_task(relay.run(stop))
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        log.info("stopping: draining in-flight work (grace %ss)", grace)
    try:
        await asyncio.wait_for(task, grace)
    except TimeoutError:
        log.warning("grace period over; unfinished entries stay pending for the next run")
    except Crashed:  # relay.run logged why; a supervisor restarts us on a non-zero exit
        return 1
    return 0
