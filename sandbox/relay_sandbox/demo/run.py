"""`relay demo`: embedded Valkey, both sandboxes, the relay, the sample blog and the live page.

Everything is served on one port: the page (`/`), the relay's HTTP API (`/v1/…`), the Telegram
Bot API emulator (`/bot…`) and the Discord emulator (`/api/v10/…`, `/gateway`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import socket
import sys
import tempfile
import webbrowser
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from aiohttp import web

from relay import model, passwords
from relay.adapter import Adapter
from relay.api import make_app
from relay.app import Relay
from relay.changes import Changes
from relay.config import Config
from relay.desk import routes as desk
from relay.desk_settings import DeskConfig, DeskEditor
from relay_sandbox.demo import content, images, page
from relay_sandbox.demo.feed import Feed
from relay_sandbox.demo.world import World, build_config, provision, subscribe_as_users
from relay_sandbox.discord import DiscordLimits, DiscordSandbox
from relay_sandbox.discord.wiring import pointed_at
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.server import TelegramSandbox

log = logging.getLogger(__name__)
DESK_EDITOR = "Demo editor"


def discord_available() -> bool:
    """Whether this version has the Discord adapter (the demo shows Telegram alone otherwise)."""
    try:
        import relay.adapters.discord  # noqa: F401
    except ImportError:
        return False
    return True


def make_adapters(config: Config) -> list[Adapter]:
    """The adapters the demo config enables, tuned to stop quickly."""
    from relay.adapters.telegram import TelegramAdapter

    adapters: list[Adapter] = [TelegramAdapter(config, poll_timeout=2.0, progress_interval=1.0)]
    if config.discord.enabled:
        from relay.adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter(config, guild_ready_timeout=0.2, progress_interval=1.0))
    return adapters


class Demo:
    """`async with Demo(port=0) as demo:` everything runs and readers are subscribed;
    `await demo.play()` publishes the sample blog; `demo.url` is the page."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8090,
        *,
        pace: float = 4.0,
        data_dir: Path | None = None,
        fast: bool = False,
        out: TextIO | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.pace = pace
        self.fast = fast
        self.out = out
        self._data_dir = data_dir.expanduser() if data_dir is not None else None
        self._stack = contextlib.AsyncExitStack()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.telegram: TelegramSandbox
        self.discord: DiscordSandbox | None
        self.world: World
        self.config: Config
        self.relay: Relay
        self.feed: Feed
        self.tag = secrets.token_hex(2)  # update ids unique to this run (a kept data dir)
        self.desk_password = secrets.token_urlsafe(9)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def say(self, text: str) -> None:
        """Narrate: to the terminal, the log and the page."""
        log.info("demo: %s", text)
        if self.out is not None:
            self.out.write(text + "\n")
            self.out.flush()
        if hasattr(self, "feed"):
            self.feed.say(text)

    async def __aenter__(self) -> Demo:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def _start(self) -> None:
        stack = self._stack
        data_dir = self._data_dir
        if data_dir is None:  # a short path: the Valkey socket lives there
            data_dir = Path(tempfile.mkdtemp(prefix="relay-demo-", dir=_short_tmp()))
            stack.callback(shutil.rmtree, data_dir, True)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        limits = DiscordLimits.off() if self.fast else None
        self.telegram = TelegramSandbox()
        self.discord = DiscordSandbox(limits=limits) if discord_available() else None
        stack.push_async_callback(self.telegram.aclose)
        if self.discord is not None:
            stack.push_async_callback(self.discord.aclose)
        if self.fast:
            self.telegram.control.set_limits(TelegramLimits.off())
        self.telegram.host, self.telegram.port = self.host, self.port
        if self.discord is not None:
            self.discord.set_base_url(self.url)
        # Draw the sample photos now, off the event loop, so the page never waits for them.
        await asyncio.to_thread(lambda: [images.image(name) for name in images.SCENES])
        self.world = provision(self.telegram, self.discord)
        self.config = build_config(self.world, self.telegram, self.discord, data_dir,
                                   fast=self.fast)  # fmt: skip
        # The editors' desk, as `relay run` serves it, with a password for this run only.
        editor = DeskEditor(DESK_EDITOR, passwords.hash_password(self.desk_password))
        self.config = replace(self.config, desk=DeskConfig(enabled=True, editors=(editor,)))
        adapters = make_adapters(self.config)
        self.relay = Relay(self.config, adapters=adapters, consumer="demo")
        self.feed = Feed(self.world, self.telegram, self.discord)
        app = make_app(self.relay)  # the relay's own API: the composer posts as a CMS would
        self.telegram.add_routes(app)
        if self.discord is not None:
            self.discord.add_routes(app)
        self.desk = desk.mount(app, self.relay)
        platforms = tuple(a.platform for a in adapters)
        page.add_routes(app, page.PageContext(self.feed, platforms, self.desk, DESK_EDITOR))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.SockSite(runner, sock).start()
        await self.feed.start()
        stack.push_async_callback(self.feed.aclose)
        if self.discord is not None:
            stack.enter_context(pointed_at(self.discord.api_base, self.discord.gateway_url))
        self.say(f"live-relay demo: starting the relay (Valkey in {data_dir})")
        await stack.enter_async_context(self.relay)
        stack.push_async_callback(self._stop_tasks)
        self._spawn(self.relay.run(self._stop), "relay")
        for pane in self.feed.panes:
            self.say(f"  {pane.platform:<8} {pane.title:<26} {pane.note}")
        for answer in await subscribe_as_users(self.world, self.telegram, self.discord):
            self.say(f"  the bot answered: {answer}")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    async def _stop_tasks(self) -> None:
        self._stop.set()
        done, pending = await asyncio.wait(
            self._tasks, timeout=self.config.dispatcher.grace_seconds
        )
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("demo task %s failed", task.get_name(), exc_info=task.exception())

    def update_id(self, step: content.Step) -> str:
        return f"{step.update_id}-{self.tag}"

    async def play(self) -> None:
        """Publish the sample blog, one step every `pace` seconds."""
        steps = content.script(self.url)
        for number, step in enumerate(steps, 1):
            await self.apply(step)
            headline = step.fields.get("headline", "")
            self.say(f"[{number}/{len(steps)}] {step.action} {self.update_id(step)}: {step.say}"
                     + (f" · {headline!r}" if headline else ""))  # fmt: skip
            await asyncio.sleep(self.pace)
        self.say("The sample blog is out. Post, preview, edit and delete your own from the desk.")

    async def apply(self, step: content.Step) -> model.Update:
        ingest = self.relay.ingest
        update_id = self.update_id(step)
        if step.action == "publish":
            update = model.from_dict({"id": update_id, **step.fields})
            return (await ingest.publish(update)).update  # the desk lists it, to edit or delete
        if step.action == "edit":
            return (await ingest.edit(update_id, Changes.from_dict(step.fields))).update
        return (await ingest.delete(update_id)).update

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self._stack.aclose()


def _short_tmp() -> str:
    # A unix socket path is at most 107 bytes; some platforms' temp dirs are deep.
    return "/tmp" if Path("/tmp").is_dir() else tempfile.gettempdir()


def _open_browser(url: str) -> None:
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return
    if type(browser) is webbrowser.GenericBrowser:  # a text browser would take the terminal
        return
    browser.open(url)


async def serve(
    stop: asyncio.Event, out: TextIO = sys.stdout, *, host: str = "127.0.0.1", port: int = 8090,
    pace: float = 4.0, open_browser: bool = True,
) -> None:  # fmt: skip
    """Run the demo until `stop` is set: the sample blog first, then whatever the user does.

    Its Valkey data live in a fresh temp dir, removed on exit: every run starts anew."""
    async with Demo(host, port, pace=pace, out=out) as demo:
        demo.say(f"\nOpen {demo.url}  (Ctrl-C stops the demo)")
        demo.say(f"The editors' desk: {demo.url}/desk/  (sign in as {DESK_EDITOR!r}, password"
                 f" {demo.desk_password})\n")  # fmt: skip
        if open_browser:
            await asyncio.to_thread(_open_browser, demo.url)
        player = asyncio.create_task(demo.play())
        await stop.wait()
        player.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await player
        demo.say("stopping…")
