"""The platform-neutral meaning of every chat command, and who may run it.

Adapters translate native input (a Telegram message, a Discord interaction) into an
`Invocation`, supply an `Authority` that answers "is this user an editor" and "may this user
manage that chat", and send the `Reply` back in their own format. Nothing here knows a platform.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from relay.changes import UNSET, Changes
from relay.config import Config
from relay.errors import InvalidUpdate, Overloaded, UnknownUpdate
from relay.ingest import Ingest
from relay.ledger import Progress, read_progress
from relay.model import ID_PATTERN, Destination, Image, Update, check_url, new_update_id, validate
from relay.subscriptions import Subscriptions

log = logging.getLogger(__name__)
EVERYONE = ("start", "help", "topics", "subscribe", "unsubscribe", "subscriptions")
EDITORS = ("post", "edit", "delete", "preview")
DESCRIPTIONS = {
    "start": "Start here",
    "help": "What this bot does and how to use it",
    "topics": "List the topics you can subscribe to",
    "subscribe": "Receive a topic's live updates here",
    "unsubscribe": "Stop receiving a topic (or all)",
    "subscriptions": "List the topics this chat receives",
    "post": "Editors: publish an update",
    "edit": "Editors: correct an update everywhere",
    "delete": "Editors: withdraw an update everywhere",
    "preview": "Editors: see an update rendered, without publishing",
}
MAX_REPLY = 2000  # the smallest message a platform takes: Discord's (Telegram's is 4,096)
MAX_TOPICS = 20  # per command; a reply names each
LINK_LINE = re.compile(r"^(?:link|read|read more)\s*:\s*(\S+)\s*$", re.IGNORECASE)


class ChatKind(StrEnum):
    """Where a command was typed: a one-to-one chat, or a shared group/channel."""

    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


@dataclass(frozen=True)
class Invocation:
    """A command as a user typed it, translated by an adapter."""

    command: str
    args: str
    chat: Destination
    chat_kind: ChatKind
    user_id: str
    target: Destination | None = None  # another chat to act on (subscribe a channel remotely)
    image: Image | None = None  # a photo the command came with
    reply_to_update: str | None = None  # the update id of the message replied to
    changes: Changes | None = None  # an /edit from a form: the fields it changes, typed
    author: str = ""  # the name a /post is signed with (the user's display name), if valid
    bot: str = ""  # the platform's bot that received it: /subscribe binds the chat to it


class Authority(Protocol):
    """What the platform knows about the user who typed the command."""

    async def is_editor(self) -> bool: ...

    async def may_manage(self, dest: Destination) -> str | None:
        """None if the user may (un)subscribe `dest`; otherwise the reason they may not."""
        ...


@dataclass(frozen=True)
class Reply:
    """The answer to show the user; `update` is the update posted, edited or previewed."""

    text: str
    ok: bool = True
    update: Update | None = None
    preview: bool = False
    subscribed: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:  # a reply too long for the platform would reach nobody
        if len(self.text) > MAX_REPLY:
            object.__setattr__(self, "text", _shorten(self.text))


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun it counts, in the singular for one: "1 subscribed chat", "2 chats"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def suggest(word: str, choices: list[str]) -> list[str]:
    """The configured names closest to a mistyped one."""
    return difflib.get_close_matches(word.lower(), choices, n=3, cutoff=0.5)


class Commands:
    """Runs invocations against ingest and subscriptions."""

    def __init__(self, config: Config, ingest: Ingest, subscriptions: Subscriptions) -> None:
        self.config = config
        self.ingest = ingest
        self.subscriptions = subscriptions
        self._handlers: dict[str, Callable[[Invocation, Authority], Awaitable[Reply]]] = {
            "start": self.start, "help": self.help, "topics": self.topics,
            "subscribe": self.subscribe, "unsubscribe": self.unsubscribe,
            "subscriptions": self.list_subscriptions, "post": self.post, "edit": self.edit,
            "delete": self.delete, "preview": self.preview,
        }  # fmt: skip

    async def progress(self, update_id: str) -> Progress | None:
        """How far the latest revision of `update_id` got (for an editor's progress message)."""
        return await read_progress(self.ingest.client, self.ingest.keys, update_id)

    async def handle(self, inv: Invocation, auth: Authority) -> Reply:
        """Answer one invocation; bad input gets a clear reply and changes nothing."""
        inv = replace(inv, command=inv.command.lower())  # before any check: /PREVIEW is /preview
        handler = self._handlers.get(inv.command)
        if handler is None:
            return Reply(f"Unknown command /{inv.command}. Try /help.", ok=False)
        if inv.command in EDITORS and not await auth.is_editor():
            return Reply("Only the newsroom's editors can use /" + inv.command + ".", ok=False)
        try:
            return await handler(inv, auth)
        except InvalidUpdate as exc:
            return Reply(f"Nothing was changed: {exc.field}: {exc.message}.", ok=False)
        except UnknownUpdate as exc:
            return Reply(f"There is no update with id {exc.update_id}.", ok=False)
        except Overloaded as exc:
            return Reply(
                f"Nothing was changed: the relay is busy ({counted(exc.backlog, 'update')} "
                f"{'is' if exc.backlog == 1 else 'are'} waiting to go out). "
                f"Please try again in {max(1, round(exc.retry_after))} s.",
                ok=False,
            )

    # everyone ------------------------------------------------------------------------------

    async def start(self, inv: Invocation, auth: Authority) -> Reply:
        arg = inv.args.strip()
        if arg.startswith("subscribe_"):  # deep link t.me/bot?start=subscribe_<topic>
            deep = replace(inv, command="subscribe", args=arg.removeprefix("subscribe_"))
            return await self.subscribe(deep, auth)
        return await self.help(inv, auth)

    async def help(self, inv: Invocation, auth: Authority) -> Reply:
        lines = [
            "This bot relays the newsroom's live updates into this chat.",
            "",
            "/topics: list the topics",
            "/subscribe <topic> [<topic>…]: receive a topic here",
            "/unsubscribe <topic>|all: stop receiving it",
            "/subscriptions: what this chat receives",
            "/settings: how this chat receives each topic (silent, breaking only…)",
        ]
        if await auth.is_editor():
            lines += [
                "",
                "Editors:",
                "/post <topic> <headline>, then the body on the next lines "
                "(a last line 'Link: https://…' adds a Read more link; --breaking marks it)",
                "/edit <update-id> <headline>, then the new body",
                "/delete <update-id>",
                "/preview <topic> <headline>…: see it rendered, nothing is published",
                "/recent: your last updates, to edit or delete",
            ]
        return Reply("\n".join(lines))

    async def topics(self, inv: Invocation, auth: Authority) -> Reply:
        lines = [f"• {t.slug}: {t.title}" + (f", {t.description}" if t.description else "")
                 for t in self.config.topics]  # fmt: skip
        return Reply("\n".join(["Topics:", *lines]))

    def _topic_args(self, words: list[str]) -> tuple[list[str], Reply | None]:
        slugs = list(self.config.topic_slugs)
        topics: list[str] = []
        for word in dict.fromkeys(words):  # `/subscribe climate` ×500 names one topic
            slug = word.lower().lstrip("#")
            if slug not in slugs:
                close = suggest(slug, slugs)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                return [], Reply(f"Unknown topic '{word[:40]}'.{hint} See /topics.", ok=False)
            topics.append(slug)
        if len(set(topics)) > MAX_TOPICS:
            return [], Reply(f"At most {MAX_TOPICS} topics at a time, please.", ok=False)
        return list(dict.fromkeys(topics)), None

    async def _managed(self, inv: Invocation, auth: Authority) -> tuple[Destination, str | None]:
        dest, private = inv.target or inv.chat, inv.chat_kind is ChatKind.PRIVATE
        return dest, None if private and inv.target is None else await auth.may_manage(dest)

    async def subscribe(self, inv: Invocation, auth: Authority) -> Reply:
        words = inv.args.split()
        if not words:
            return Reply("Which topic? Usage: /subscribe <topic>. See /topics.", ok=False)
        topics, error = self._topic_args(words)
        if error is not None:
            return error
        dest, refusal = await self._managed(inv, auth)
        if refusal is not None:
            return Reply(refusal, ok=False)
        new = await self.subscriptions.subscribe(dest, topics, inv.bot or None)
        old = [t for t in topics if t not in new]
        parts = []
        if new:
            parts.append("Subscribed to " + ", ".join(self._title(t) for t in new) + ".")
        if old:
            parts.append("Already subscribed to " + ", ".join(self._title(t) for t in old) + ".")
        return Reply(" ".join(parts), subscribed=tuple(topics))

    async def unsubscribe(self, inv: Invocation, auth: Authority) -> Reply:
        words = inv.args.split()
        if not words:
            return Reply("Which topic? Usage: /unsubscribe <topic>|all.", ok=False)
        every = [w for w in words if w.lower() == "all"]
        topics, error = ([], None) if every else self._topic_args(words)
        if error is not None:
            return error
        dest, refusal = await self._managed(inv, auth)
        if refusal is not None:
            return Reply(refusal, ok=False)
        removed = await self.subscriptions.unsubscribe(dest, None if every else topics)
        if not removed:
            return Reply("This chat was not subscribed to that.", ok=False)
        return Reply("Unsubscribed from " + ", ".join(self._title(t) for t in removed) + ".")

    async def list_subscriptions(self, inv: Invocation, auth: Authority) -> Reply:
        # another chat's list is for its admins only (a chat's own members see what arrives)
        refusal = None if inv.target is None else await auth.may_manage(inv.target)
        if refusal is not None:
            return Reply(refusal, ok=False)
        topics = await self.subscriptions.topics(inv.target or inv.chat)
        if not topics:
            return Reply("This chat receives no topics yet. Try /topics, then /subscribe.")
        return Reply("This chat receives: " + ", ".join(self._title(t) for t in topics) + ".")

    def _title(self, slug: str) -> str:
        topic = self.config.topic(slug)
        return f"{topic.title} ({slug})" if topic and topic.title != slug else slug

    # editors -------------------------------------------------------------------------------

    def draft(self, inv: Invocation) -> Update | Reply:
        """Build an update from `/post <topic> [--breaking] <headline>\\n<body>`."""
        first, _, rest = inv.args.strip().partition("\n")
        words = first.split()
        if not words:
            return Reply("Usage: /post <topic> <headline>, then the body on new lines.", ok=False)
        topics, error = self._topic_args(words[:1])
        if error is not None:
            return error
        breaking = "--breaking" in words[1:]
        headline = " ".join(w for w in words[1:] if w != "--breaking")
        if not headline:
            return Reply("The update needs a headline after the topic.", ok=False)
        body, link = _split_link(rest)
        return Update(
            id=new_update_id(), topic=topics[0], headline=headline, body=body, link=link,
            image=inv.image, breaking=breaking, author=inv.author,
        )  # fmt: skip

    async def post(self, inv: Invocation, auth: Authority) -> Reply:
        draft = self.draft(inv)
        if isinstance(draft, Reply):
            return draft
        accepted = await self.ingest.publish(draft)
        count = await self.subscriptions.count(draft.topic)
        return Reply(
            f"Published update {accepted.update.id} to {self._title(draft.topic)}: "
            f"on its way to {counted(count, 'subscribed chat')}.",
            update=accepted.update,
        )

    async def preview(self, inv: Invocation, auth: Authority) -> Reply:
        draft = self.draft(inv)
        if isinstance(draft, Reply):
            return draft
        return Reply("Preview (not published):", update=validate(draft), preview=True)

    def _target_id(self, inv: Invocation) -> tuple[str, str] | Reply:
        text = inv.args.strip()
        first, _, rest = text.partition("\n")
        words = first.split(maxsplit=1)
        if words and ID_PATTERN.match(words[0]) and inv.reply_to_update is None:
            update_id, remainder = words[0], (words[1] if len(words) > 1 else "")
        elif inv.reply_to_update is not None:
            update_id, remainder = inv.reply_to_update, first
        else:
            return Reply(f"Usage: /{inv.command} <update-id> …", ok=False)
        return update_id, remainder + ("\n" + rest if rest else "")

    async def edit(self, inv: Invocation, auth: Authority) -> Reply:
        target = self._target_id(inv)
        if isinstance(target, Reply):
            return target
        update_id, text = target
        changes = inv.changes if inv.changes is not None else _text_changes(text, inv.image)
        if changes is None:
            return Reply("Usage: /edit <update-id> <new headline>, then the new body.", ok=False)
        accepted = await self.ingest.edit(update_id, changes)
        return Reply(
            f"Edited update {update_id} (revision {accepted.update.revision}); "
            "every copy is being corrected.",
            update=accepted.update,
        )

    async def delete(self, inv: Invocation, auth: Authority) -> Reply:
        target = self._target_id(inv)
        if isinstance(target, Reply):
            return target
        accepted = await self.ingest.delete(target[0])
        return Reply(f"Deleted update {target[0]}; every copy is being removed.",
                     update=accepted.update)  # fmt: skip


def _shorten(text: str) -> str:
    """`text` cut within `MAX_REPLY` at a line or list break, ending in an ellipsis."""
    cut = text[: MAX_REPLY - 1]
    at = max(cut.rfind("\n"), cut.rfind(", "))
    return (cut[:at] if at > MAX_REPLY // 2 else cut).rstrip() + "…"


def _text_changes(text: str, image: Image | None) -> Changes | None:
    """The edit `<new headline>\n[<new body>][\nLink: …]` asks for; None without a headline.

    A body or link left out stays as it is; a photo sent with the command replaces the old.
    """
    headline, _, rest = text.strip().partition("\n")
    if not headline.strip():
        return None
    body, link = _split_link(rest) if rest.strip() else (UNSET, None)
    return Changes(
        headline=headline.strip(), body=body, link=UNSET if link is None else link,
        image=UNSET if image is None else image,
    )  # fmt: skip


def _split_link(text: str) -> tuple[str, str | None]:
    """Separate a trailing `Link: https://…` line from the body."""
    lines = text.strip().splitlines()
    if lines:
        match = LINK_LINE.match(lines[-1].strip())
        if match:
            return "\n".join(lines[:-1]).strip(), check_url("link", match.group(1))
    return text.strip(), None
