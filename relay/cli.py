"""The `relay` command: run the relay, post/edit/delete updates, manage subscriptions, check config.

Exit status: 0 success; 2 bad configuration or bad input (the message says which key or field);
1 anything else, in one line (Redis unreachable, the relay overloaded, a part of `relay run`
that died); 130 interrupted. No traceback unless --verbose. Logging is configured here only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.exceptions import RedisError

from relay import __version__, logs, passwords, progress, schedule
from relay import config as config_mod
from relay.changes import Changes
from relay.config import Config
from relay.errors import ConfigError, InvalidUpdate, RelayError, UnknownUpdate
from relay.model import Destination, Image, Update, new_update_id
from relay.schedule import parse_time

log = logging.getLogger("relay")
MAX_COUNT = 100_000
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Commands that talk to a platform (or check a config for them) need its tokens; the rest
# only write to Redis, and a CMS host should not have to hold bot tokens to run them.
NEED_TOKENS = ("run", "check")


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_COUNT:,}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relay", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"live-relay {__version__}")
    p.add_argument("--config", help="config file (default: $RELAY_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the relay until SIGTERM/SIGINT")
    run.add_argument("--consumer", help="consumer name in the Redis group (default host-pid)")
    sub.add_parser("check", help="validate the config and exit 0 (valid) or 2")
    sub.add_parser("desk-hash", help="read a desk password on stdin, print its hash for config")

    post = sub.add_parser("post", help="publish an update; prints its id")
    post.add_argument("--topic", required=True)
    post.add_argument("--headline", required=True)
    post.add_argument("--id", help="your own update id (default: generated)")
    post.add_argument("--at", help="publish later, at this ISO 8601 time with its zone")
    _content_args(post)
    progress.add_arguments(post, sub)
    edit = sub.add_parser("edit", help="edit an update everywhere it was sent")
    edit.add_argument("id")
    edit.add_argument("--headline")
    _content_args(edit)

    delete = sub.add_parser("delete", help="delete an update everywhere (or cancel it, if due)")
    delete.add_argument("id")
    sub.add_parser("scheduled", help="the updates waiting for their --at time")

    operator = " (as an operator, no permission check)"
    for name, text in (
        ("subscribe", "subscribe a chat" + operator),
        ("subscriptions", "list a chat's topics and its settings of each"),
        ("unsubscribe", "unsubscribe a chat" + operator),
    ):
        s = sub.add_parser(name, help=text)
        s.add_argument("platform", choices=config_mod.PLATFORMS)
        s.add_argument("chat", help="chat or channel id")
        if name != "subscriptions":
            s.add_argument("topics", nargs="+" if name == "subscribe" else "*", metavar="TOPIC")
        s.add_argument("--thread", help="forum topic / thread id")
    sub.add_parser("status", help="workers, queues, subscribers and recent dead letters")
    dead = sub.add_parser("dead-letters", help="list or retry what could not be delivered")
    dead_sub = dead.add_subparsers(dest="dead_cmd", required=True, metavar="ACTION")
    dead_list = dead_sub.add_parser("list", help="the newest dead letters")
    dead_list.add_argument("--count", type=_count, default=20)
    retry = dead_sub.add_parser("retry", help="send dead letters through again")
    retry.add_argument("ids", nargs="*", metavar="ID", help="dead letter ids (default: all)")
    sandbox = sub.add_parser("sandbox", help="run the local Telegram and Discord emulators")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--telegram-port", type=int, default=8081)
    sandbox.add_argument("--discord-port", type=int, default=8082)
    demo = sub.add_parser("demo", help="the whole relay offline, with a live preview page")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8090)
    demo.add_argument("--pace", type=float, default=4.0, help="seconds between sample updates")
    demo.add_argument("--no-browser", action="store_true", help="do not open the page")
    return p


def _content_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--body", help="body text (Markdown subset); '-' reads standard input")
    p.add_argument("--link", help="Read more link (http/https); in an edit '' removes it")
    p.add_argument("--image", help="photo URL (http/https); in an edit '' removes the photo")
    p.add_argument("--caption", help="photo caption")
    p.add_argument("--credit", help="photo credit line")
    p.add_argument("--author", help="author shown with the update")
    p.add_argument("--breaking", action=argparse.BooleanOptionalAction, default=None)


def _body(args: argparse.Namespace) -> str | None:
    body: str | None = args.body
    if body != "-":
        return body
    raw = sys.stdin.buffer.read()  # bytes: the locale must not decide how (or whether) it fails
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidUpdate("body", f"standard input is not UTF-8 (at byte {exc.start})") from None


def _check_text(args: argparse.Namespace) -> None:
    """Refuse text that was not UTF-8 (Python keeps it as lone surrogates); a path may be."""
    for name, value in vars(args).items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and not text.isascii() and name != "config":
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise InvalidUpdate(name, "must be UTF-8 text") from None


def _image(args: argparse.Namespace) -> Image | None:
    if args.image is None:
        if args.caption or args.credit:
            raise InvalidUpdate("image.url", "--caption and --credit need --image")
        return None
    return Image(args.image, args.caption or "", args.credit or "")


async def _with_relay(config: Config, work: Callable[[Any], Awaitable[int]]) -> int:
    from relay.app import Relay

    # No adapters (they write to Redis, a running relay delivers); no channel sync (`run` does).
    async with Relay(config, adapters=[], sync_channels=False) as relay:
        return await work(relay)


async def _post(relay: Any, args: argparse.Namespace) -> int:
    update = Update(
        id=args.id or new_update_id(), topic=args.topic, headline=args.headline,
        body=_body(args) or "", link=args.link, image=_image(args),
        breaking=bool(args.breaking), author=args.author or "",
    )  # fmt: skip
    if args.at:  # it waits: there is nothing to follow yet
        held = await relay.schedule.add(update, parse_time(args.at))
        print(f"{held.update.id} scheduled for {held.at.isoformat()}")
        return 0
    accepted = await relay.ingest.publish(update)
    print(accepted.update.id)
    return await progress.after_post(relay, args, accepted.update.id)


def _changes(args: argparse.Namespace) -> Changes:
    """The edit the options ask for; an option not given leaves its field as it is."""
    given = {key: getattr(args, key) for key in ("headline", "link", "author", "breaking")}
    given["body"] = _body(args)
    changes = {key: value for key, value in given.items() if value is not None}
    if args.image == "" and not (args.caption or args.credit):
        changes["image"] = None  # --image '' removes the photo, as --link '' removes the link
    elif (image := _image(args)) is not None:
        changes["image"] = image
    return Changes(**changes)


async def _edit(relay: Any, args: argparse.Namespace) -> int:
    changes = _changes(args)
    if not changes:
        raise InvalidUpdate("edit", "nothing to change: give --headline, --body, --link, …")
    accepted = await relay.ingest.edit(args.id, changes)
    print(f"{accepted.update.id} revision {accepted.update.revision}")
    return 0


async def _delete(relay: Any, args: argparse.Namespace) -> int:
    if await relay.schedule.cancel(args.id):
        print(f"{args.id} cancelled (it was scheduled: nothing was sent)")
        return 0
    accepted = await relay.ingest.delete(args.id)
    print(f"{accepted.update.id} deleted (revision {accepted.update.revision})")
    return 0


async def _subscription(relay: Any, args: argparse.Namespace) -> int:
    dest = Destination(args.platform, args.chat, args.thread)
    if args.cmd == "subscribe":
        for topic in args.topics:
            relay.ingest.check_topic(topic)
        new = await relay.subscriptions.subscribe(dest, args.topics)
        print(f"{dest}: subscribed to {', '.join(new) or 'nothing new'}")
    elif args.cmd == "unsubscribe":
        removed = await relay.subscriptions.unsubscribe(dest, args.topics or None)
        print(f"{dest}: unsubscribed from {', '.join(removed) or 'nothing'}")
    else:  # each topic with the chat's settings of it that differ from the defaults
        chosen = await relay.subscriptions.settings.get(dest)
        shown = [t + (f" ({s})" if (s := chosen.of(t).describe()) else "")
                 for t in await relay.subscriptions.topics(dest)]  # fmt: skip
        print(f"{dest}: {', '.join(shown) or '(none)'}")
    return 0


async def _status(relay: Any, args: argparse.Namespace) -> int:
    from relay.admin import status

    print((await status(relay.client, relay.config, schedule=relay.schedule)).render())
    return 0


async def _dead_letters(relay: Any, args: argparse.Namespace) -> int:
    from relay.admin import retry_dead_letters
    from relay.dead_letters import list_dead_letters

    if args.dead_cmd == "list":
        letters = await list_dead_letters(relay.client, relay.keys, args.count)
        for d in letters:
            print(f"{d.id}  {d.destination or '(stream entry)'}  update={d.source_id}  {d.reason}")
        if not letters:
            print("no dead letters")
        return 0
    results = await retry_dead_letters(relay.client, relay.config, args.ids or None)
    for letter_id, outcome in results:
        print(f"{letter_id}: {outcome}")
    if not results:
        print("no dead letters")
    return 1 if any(o == "no such dead letter" for _, o in results) else 0


def _stop_on_signals() -> asyncio.Event:
    """An event SIGTERM and SIGINT set: what the long-running commands stop on."""
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    return stop


SANDBOX_MISSING = (
    "relay {cmd}: the emulators are not installed (they stay out of production installs);"
    " from a live-relay checkout run `./dev setup`, or `pip install -e ./sandbox`"
)


def _sandbox_installed(cmd: str) -> bool:
    try:
        import relay_sandbox  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "relay_sandbox":
            raise
        print(SANDBOX_MISSING.format(cmd=cmd), file=sys.stderr)
        return False
    return True


async def _sandbox(args: argparse.Namespace) -> int:
    if not _sandbox_installed("sandbox"):
        return 2
    from relay_sandbox.serve import serve

    await serve(_stop_on_signals(), sys.stdout, args.host, args.telegram_port, args.discord_port)
    return 0


async def _demo(args: argparse.Namespace) -> int:
    if not _sandbox_installed("demo"):
        return 2
    from relay_sandbox.demo.run import serve

    if not args.verbose:  # the narration on stdout tells the story; library chatter buries it
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("discord.client").setLevel(logging.ERROR)  # "no voice support"
    stop = _stop_on_signals()
    try:
        await serve(
            stop, sys.stdout, host=args.host, port=args.port, pace=args.pace,
            open_browser=not args.no_browser,
        )  # fmt: skip
    except OSError as exc:  # a RelayError (Valkey would not start, …) is main's to report
        print(f"error: cannot serve the demo on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run(config: Config, args: argparse.Namespace) -> int:
    from relay.app import run_until

    return await run_until(_stop_on_signals(), config, args.consumer)


COMMANDS: dict[str, Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    "post": _post, "edit": _edit, "delete": _delete, "subscribe": _subscription,
    "unsubscribe": _subscription, "subscriptions": _subscription, "status": _status,
    "dead-letters": _dead_letters, "progress": progress.command, "scheduled": schedule.command,
}  # fmt: skip


def _command(args: argparse.Namespace) -> int:
    if args.cmd == "sandbox":  # needs no config: it stands in for the platforms
        return asyncio.run(_sandbox(args))
    if args.cmd == "demo":  # needs no config and no tokens: it brings its own sandboxes
        return asyncio.run(_demo(args))
    if args.cmd == "desk-hash":  # needs no config: its output goes into one
        return passwords.command()
    config = config_mod.load(args.config, need_tokens=args.cmd in NEED_TOKENS)
    logs.apply(config.secrets, config.logging)
    if args.cmd in ("check", "run"):
        from relay.api import check_exposure

        check_exposure(config)
    if args.cmd == "check":
        print(f"{config.path}: OK ({len(config.topics)} topics, {len(config.channels)} channels)")
        return 0
    if args.cmd == "run":  # a stop while the event loop is being built would leave it half made
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        with asyncio.Runner() as runner:
            runner.get_loop()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            return runner.run(_run(config, args))
    if not args.verbose:  # a one-shot command prints its answer; start-up lines are noise
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    return asyncio.run(_with_relay(config, lambda relay: COMMANDS[args.cmd](relay, args)))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.setup(args.verbose)
    if args.cmd == "run":  # until _run takes over the signals, a stop has nothing to drain
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda signum, frame: sys.exit(0))
    try:
        _check_text(args)
        return _command(args)
    except ConfigError as exc:
        print(logs.mask(f"config error: {exc}"), file=sys.stderr)
        return 2
    except (InvalidUpdate, UnknownUpdate) as exc:
        print(logs.mask(f"error: {exc}"), file=sys.stderr)
        return 2
    except (RelayError, RedisError, OSError) as exc:  # incl. Overloaded: nothing was accepted
        print(logs.mask(f"error: {exc or type(exc).__name__}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line; --verbose adds the traceback
        log.debug("traceback of the unexpected error", exc_info=True)
        hint = "" if args.verbose else " (--verbose shows the traceback)"
        print(logs.mask(f"error: unexpected {type(exc).__name__}: {exc}{hint}"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
