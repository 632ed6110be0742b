"""The relay's one lifecycle: `async with Relay(config) as relay: await relay.run(stop)`."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import TextIO

import redis.asyncio as aioredis

from relay.adapter import Adapter, AdapterContext, AdapterFactory
from relay.api import serve
from relay.backend import Backend
from relay.claims import Claims
from relay.commands import Commands
from relay.config import Config
from relay.dispatcher import Dispatcher
from relay.errors import ConfigError, RelayError
from relay.ingest import Ingest
from relay.keys import Keys
from relay.sender import Sender
from relay.subscriptions import Subscriptions

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
        adapters.append(factory(config, console_out))
    return adapters


class Relay:
    """Connects Redis, syncs the config's channels, starts adapters and the dispatcher."""

    def __init__(
        self,
        config: Config,
        adapters: Sequence[Adapter] | None = None,
        consumer: str | None = None,
        console_out: TextIO | None = None,
    ) -> None:
        self.config = config
        self.keys = Keys(config.redis.key_prefix)
        self.consumer = consumer or default_consumer()
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

    async def __aenter__(self) -> Relay:
        adapters = self._adapters
        if adapters is None:
            adapters = build_adapters(self.config, self._console_out)
        self.client = await self._backend.__aenter__()
        try:
            self.ingest = Ingest.from_config(self.client, self.config)
            self.subscriptions = Subscriptions(self.client, self.keys)
            added, removed = await self.subscriptions.sync_config(self.config.channels)
            log.info("config channels synced added=%d removed=%d", added, removed)
            self.commands = Commands(self.config, self.ingest, self.subscriptions)
            context = AdapterContext(
                self.commands,
                Claims(self.client, self.keys),
                self.ingest.registry,
                self.subscriptions,
            )
            for adapter in adapters:
                try:
                    await adapter.start(context)
                except RelayError:
                    raise
                except Exception as exc:  # e.g. the platform unreachable: one line, no traceback
                    raise RelayError(f"{adapter.platform}: could not start: {exc}") from exc
                self._started.append(adapter)
            by_platform = {a.platform: a for a in adapters}
            self.dispatcher = Dispatcher(self.client, self.config, self.consumer)
            self.sender = Sender(self.client, self.config, by_platform, self.consumer)
            await self.dispatcher.stream.ensure_group()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def run(self, stop: asyncio.Event) -> None:
        """Fan out, send (and serve the HTTP API, if enabled) until `stop` is set."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.dispatcher.run(stop), name="dispatcher")
            tasks.create_task(self.sender.run(stop), name="sender")
            if self.config.api.enabled:
                tasks.create_task(serve(self, stop), name="api")

    async def __aexit__(self, *exc: object) -> None:
        for adapter in reversed(self._started):
            try:
                await adapter.aclose()
            except Exception:
                log.exception("adapter %s failed to close", adapter.platform)
        self._started.clear()
        await self._backend.__aexit__(None, None, None)
