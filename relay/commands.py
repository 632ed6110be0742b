"""The platform-neutral meaning of every chat command, and who may run it.

Adapters translate native input (a Telegram message, a Discord interaction) into an
`Invocation`, supply an `Authority` that answers "is this user an editor" and "may this user
manage that chat", and send the `Reply` back in their own format. Nothing here knows a platform.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from relay.changes import Changes
from relay.config import Config
from relay.drafts import split_link, text_changes
from relay.errors import InvalidUpdate, Overloaded, UnknownUpdate
from relay.i18n import _, ngettext, speaking
from relay.ingest import Ingest
from relay.ledger import Progress, read_progress
from relay.model import (
    ID_PATTERN,
    Destination,
    Image,
    Update,
    new_update_id,
    validate,
)
from relay.replies import EDITED, editors_only, invalid, no_update, published
from relay.subscriptions import Subscriptions

log = logging.getLogger(__name__)
EVERYONE = ("start", "help", "topics", "subscribe", "unsubscribe", "subscriptions")
EDITORS = ("post", "edit", "delete", "preview")
MAX_REPLY = 2000  # the smallest message a platform takes: Discord's (Telegram's is 4,096)
MAX_TOPICS = 20  # per command; a reply names each


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
    language: str = ""  # the user's (a platform's tag: "uk", "en-US"); replies in it, or English


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
        """Answer one invocation in its user's language; bad input gets a clear reply and
        changes nothing."""
        with speaking(inv.language):
            return await self._handle(inv, auth)

    async def _handle(self, inv: Invocation, auth: Authority) -> Reply:
        inv = replace(inv, command=inv.command.lower())  # before any check: /PREVIEW is /preview
        handler = self._handlers.get(inv.command)
        if handler is None:
            return Reply(_("Unknown command /{command}. Try /help.").format(command=inv.command),
                         ok=False)  # fmt: skip
        if inv.command in EDITORS and not await auth.is_editor():
            return Reply(editors_only(inv.command), ok=False)
        try:
            return await handler(inv, auth)
        except InvalidUpdate as exc:
            return Reply(invalid(exc), ok=False)
        except UnknownUpdate as exc:
            return Reply(no_update(exc.update_id), ok=False)
        except Overloaded as exc:
            text = ngettext(
                "Nothing was changed: the relay is busy ({count} update is waiting to go out). "
                "Please try again in {seconds} s.",
                "Nothing was changed: the relay is busy ({count} updates are waiting to go "
                "out). Please try again in {seconds} s.",
                exc.backlog,
            )
            seconds = max(1, round(exc.retry_after))
            return Reply(text.format(count=f"{exc.backlog:,}", seconds=seconds), ok=False)

    # everyone ------------------------------------------------------------------------------

    async def start(self, inv: Invocation, auth: Authority) -> Reply:
        arg = inv.args.strip()
        if arg.startswith("subscribe_"):  # deep link t.me/bot?start=subscribe_<topic>
            deep = replace(inv, command="subscribe", args=arg.removeprefix("subscribe_"))
            return await self.subscribe(deep, auth)
        return await self.help(inv, auth)

    async def help(self, inv: Invocation, auth: Authority) -> Reply:
        lines = [
            _("This bot relays the newsroom's live updates into this chat."),
            "",
            _("/topics: list the topics"),
            _("/subscribe <topic> [<topic>…]: receive a topic here"),
            _("/unsubscribe <topic>|all: stop receiving it"),
            _("/subscriptions: what this chat receives"),
            _("/settings: how this chat receives each topic (silent, breaking only…)"),
        ]
        if await auth.is_editor():
            lines += [
                "",
                _("Editors:"),
                _("/post <topic> <headline>, then the body on the next lines "
                  "(a last line 'Link: https://…' adds a Read more link; --breaking marks it)"),
                _("/edit <update-id> <headline>, then the new body"),
                _("/delete <update-id>"),
                _("/preview <topic> <headline>…: see it rendered, nothing is published"),
                _("/recent: your last updates, to edit or delete"),
            ]  # fmt: skip
        return Reply("\n".join(lines))

    async def topics(self, inv: Invocation, auth: Authority) -> Reply:
        lines = [f"• {t.slug}: {t.title}" + (f", {t.description}" if t.description else "")
                 for t in self.config.topics]  # fmt: skip
        return Reply("\n".join([_("Topics:"), *lines]))

    def _topic_args(self, words: list[str]) -> tuple[list[str], Reply | None]:
        slugs = list(self.config.topic_slugs)
        topics: list[str] = []
        for word in dict.fromkeys(words):  # `/subscribe climate` ×500 names one topic
            slug = word.lower().lstrip("#")
            if slug not in slugs:
                close = suggest(slug, slugs)
                text = (_("Unknown topic '{topic}'. Did you mean {names}? See /topics.") if close
                        else _("Unknown topic '{topic}'. See /topics."))  # fmt: skip
                return [], Reply(text.format(topic=word[:40], names=", ".join(close)), ok=False)
            topics.append(slug)
        if len(set(topics)) > MAX_TOPICS:
            text = _("At most {count} topics at a time, please.").format(count=MAX_TOPICS)
            return [], Reply(text, ok=False)
        return list(dict.fromkeys(topics)), None

    async def _managed(self, inv: Invocation, auth: Authority) -> tuple[Destination, str | None]:
        dest, private = inv.target or inv.chat, inv.chat_kind is ChatKind.PRIVATE
        return dest, None if private and inv.target is None else await auth.may_manage(dest)

    async def subscribe(self, inv: Invocation, auth: Authority) -> Reply:
        words = inv.args.split()
        if not words:
            return Reply(_("Which topic? Usage: /subscribe <topic>. See /topics."), ok=False)
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
            parts.append(_("Subscribed to {topics}.").format(topics=self._titles(new)))
        if old:
            parts.append(_("Already subscribed to {topics}.").format(topics=self._titles(old)))
        return Reply(" ".join(parts), subscribed=tuple(topics))

    async def unsubscribe(self, inv: Invocation, auth: Authority) -> Reply:
        words = inv.args.split()
        if not words:
            return Reply(_("Which topic? Usage: /unsubscribe <topic>|all."), ok=False)
        every = [w for w in words if w.lower() == "all"]
        topics, error = ([], None) if every else self._topic_args(words)
        if error is not None:
            return error
        dest, refusal = await self._managed(inv, auth)
        if refusal is not None:
            return Reply(refusal, ok=False)
        removed = await self.subscriptions.unsubscribe(dest, None if every else topics)
        if not removed:
            return Reply(_("This chat was not subscribed to that."), ok=False)
        return Reply(_("Unsubscribed from {topics}.").format(topics=self._titles(removed)))

    async def list_subscriptions(self, inv: Invocation, auth: Authority) -> Reply:
        # another chat's list is for its admins only (a chat's own members see what arrives)
        refusal = None if inv.target is None else await auth.may_manage(inv.target)
        if refusal is not None:
            return Reply(refusal, ok=False)
        topics = await self.subscriptions.topics(inv.target or inv.chat)
        if not topics:
            return Reply(_("This chat receives no topics yet. Try /topics, then /subscribe."))
        return Reply(_("This chat receives: {topics}.").format(topics=self._titles(topics)))

    def _title(self, slug: str) -> str:
        topic = self.config.topic(slug)
        return f"{topic.title} ({slug})" if topic and topic.title != slug else slug

    def _titles(self, slugs: list[str]) -> str:
        return ", ".join(self._title(t) for t in slugs)

    # editors -------------------------------------------------------------------------------

    def draft(self, inv: Invocation) -> Update | Reply:
        """Build an update from `/post <topic> [--breaking] <headline>\\n<body>`."""
        first, _nl, rest = inv.args.strip().partition("\n")
        words = first.split()
        if not words:
            return Reply(_("Usage: /post <topic> <headline>, then the body on new lines."),
                         ok=False)  # fmt: skip
        topics, error = self._topic_args(words[:1])
        if error is not None:
            return error
        breaking = "--breaking" in words[1:]
        headline = " ".join(w for w in words[1:] if w != "--breaking")
        if not headline:
            return Reply(_("The update needs a headline after the topic."), ok=False)
        body, link = split_link(rest)
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
        text = published(accepted.update.id, self._title(draft.topic), count)
        return Reply(text, update=accepted.update)

    async def preview(self, inv: Invocation, auth: Authority) -> Reply:
        draft = self.draft(inv)
        if isinstance(draft, Reply):
            return draft
        return Reply(_("Preview (not published):"), update=validate(draft), preview=True)

    def _target_id(self, inv: Invocation) -> tuple[str, str] | Reply:
        text = inv.args.strip()
        first, _nl, rest = text.partition("\n")
        words = first.split(maxsplit=1)
        if words and ID_PATTERN.match(words[0]) and inv.reply_to_update is None:
            update_id, remainder = words[0], (words[1] if len(words) > 1 else "")
        elif inv.reply_to_update is not None:
            update_id, remainder = inv.reply_to_update, first
        else:
            return Reply(_("Usage: /{command} <update-id> …").format(command=inv.command), ok=False)
        return update_id, remainder + ("\n" + rest if rest else "")

    async def edit(self, inv: Invocation, auth: Authority) -> Reply:
        target = self._target_id(inv)
        if isinstance(target, Reply):
            return target
        update_id, text = target
        changes = inv.changes if inv.changes is not None else text_changes(text, inv.image)
        if changes is None:
            return Reply(_("Usage: /edit <update-id> <new headline>, then the new body."),
                         ok=False)  # fmt: skip
        accepted = await self.ingest.edit(update_id, changes)
        text = _(EDITED).format(id=update_id, revision=accepted.update.revision)
        return Reply(text, update=accepted.update)

    async def delete(self, inv: Invocation, auth: Authority) -> Reply:
        target = self._target_id(inv)
        if isinstance(target, Reply):
            return target
        accepted = await self.ingest.delete(target[0])
        text = _("Deleted update {id}; every copy is being removed.").format(id=target[0])
        return Reply(text, update=accepted.update)


def _shorten(text: str) -> str:
    """`text` cut within `MAX_REPLY` at a line or list break, ending in an ellipsis."""
    cut = text[: MAX_REPLY - 1]
    at = max(cut.rfind("\n"), cut.rfind(", "))
    return (cut[:at] if at > MAX_REPLY // 2 else cut).rstrip() + "…"
