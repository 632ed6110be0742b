"""`/settings` and `/recent`: menus of choices, the same on every platform.

A `Menu` is text and `Group`s of `Choice`s; each platform shows it natively (Telegram: inline
keyboard buttons; Discord: one select menu per group) and sends the `data` of the choice
pressed back to `Menus.press`, which answers with a `Pressed`: the menu as it is now, a short
answer, and for an edit the update the platform opens its way of editing for.

`/settings`: a group per subscribed topic; a choice toggles that setting. Who may: anyone in a
private chat; elsewhere, who may `/subscribe` there (`Authority.may_manage`), checked again at
every press. `/recent` (editors): the updates the editor posted from a chat lately
(`relay.recent`), to edit or delete (a delete is confirmed first); checked again at every press.

Every string a user reads is in `MESSAGES`, marked for the catalogues (`relay.i18n`) and
translated where it is shown (`say`), in the language of the user who typed or pressed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from relay.chat_settings import TopicSettings
from relay.commands import Authority, ChatKind
from relay.config import Config, TopicConfig
from relay.errors import UnknownUpdate
from relay.i18n import N_, _
from relay.ingest import Ingest
from relay.model import Action, Destination
from relay.recent import RecentPosts
from relay.subscriptions import Subscriptions

log = logging.getLogger(__name__)
PREFIX = "set"  # a choice's data: "set:<topic>:<setting>" (at most 46 bytes: Telegram takes 64)
MAX_GROUPS = 5  # Discord shows at most 5 select menus in a message
MAX_DATA = 64  # bytes of a Telegram button's callback_data
RECENT_CHOICES = ("recent", "edit", "del", "delok")
MENU_EVERYONE, MENU_EDITORS = ("settings",), ("recent",)
MENU_COMMANDS = MENU_EVERYONE + MENU_EDITORS  # answered by adapters with `Menus`, not `Commands`
DESCRIPTIONS = {
    "settings": N_("How this chat receives each topic (admins)"),
    "recent": N_("Editors: your last updates, to edit or delete"),
}
MESSAGES = {
    "title": N_("Settings of this chat, per topic. Press one to change it."),
    "none": N_("This chat receives no topics yet. Try /topics, then /subscribe."),
    "more": N_("(The first {shown} topics are shown.)"),
    "gone": N_("This chat no longer receives {topic}."),
    "stale": N_("That button is out of date; here are the settings as they are now."),
    "changed": N_("{topic}: {setting} is now {value}."),
    "silent": N_("Routine updates"),
    "previews": N_("Link previews"),
    "breaking_only": N_("Breaking news only"),
    "digest": N_("Digest when far behind"),
    "silent=on": N_("silent"),
    "silent=off": N_("with a notification"),
    "silent=default": N_("{default} (topic default)"),
    "previews=on": N_("on"),
    "previews=off": N_("off"),
    "previews=default": N_("{default} (topic default)"),
    "yes": N_("yes"),
    "no": N_("no"),
    "recent": N_("Your last updates, newest first:"),
    "recent_none": N_("You have posted no update from here lately (/post publishes one)."),
    "editors_only": N_("Only the newsroom's editors can use /recent."),
    "edit_group": N_("Edit…"),
    "delete_group": N_("Delete…"),
    "confirm": N_("Delete update {id} ({headline}) everywhere?"),
    "yes_delete": N_("Yes, delete it everywhere"),
    "keep": N_("No, keep it"),
    "deleted": N_("Deleted update {id}; every copy is being removed."),
    "already": N_("Update {id} is not there any more."),
    "edit_how": N_(
        "To edit {id}, send:\n/edit {id} {headline}\nwith your new headline, then the "
        "new body on the next lines (what you leave out stays as it is)."
    ),
}


def say(key: str) -> str:
    """`MESSAGES[key]` in the language of the moment (`relay.i18n.speaking`)."""
    return _(MESSAGES[key])


@dataclass(frozen=True)
class Choice:
    label: str
    data: str  # what pressing it sends back (Telegram callback_data, Discord option value)


@dataclass(frozen=True)
class Group:
    """Choices shown together (one topic's settings; the updates to edit)."""

    title: str
    choices: tuple[Choice, ...]
    key: str = ""  # names the group among the menu's (a Discord select's custom id)


@dataclass(frozen=True)
class Menu:
    text: str
    groups: tuple[Group, ...] = ()
    ok: bool = True
    name: str = "settings"  # which command's menu


@dataclass(frozen=True)
class Pressed:
    """What a press changed: the menu to show now (None: leave it), a short answer (shown as
    an alert when `alert`), and the update to open for editing, if that was the choice."""

    menu: Menu | None
    answer: str
    alert: bool = False
    edit: str | None = None


def value_label(name: str, settings: TopicSettings, topic: TopicConfig) -> str:
    value = getattr(settings, name)
    if isinstance(value, bool):
        return say("yes" if value else "no")
    default = (
        ("silent" if topic.silent else "with a notification")
        if name == "silent"
        else (topic.link_previews)
    )
    return say(f"{name}={value}").format(default=default)


class Menus:
    """Builds the settings menu of a chat and applies a choice made in it."""

    def __init__(
        self, config: Config, subscriptions: Subscriptions, ingest: Ingest | None = None
    ) -> None:
        self.config = config
        self.subscriptions = subscriptions
        self.ingest = ingest  # for /recent (None: a process that cannot publish)
        self.posts = RecentPosts(ingest.client, ingest.keys) if ingest is not None else None

    async def _refusal(self, dest: Destination, kind: ChatKind, auth: Authority) -> str | None:
        if kind is ChatKind.PRIVATE:
            return None
        return await auth.may_manage(dest)

    def _names(self, platform: str) -> tuple[str, ...]:
        # A Discord update is an embed: a link preview is no part of it.
        if platform == "discord":
            return ("silent", "breaking_only", "digest")
        return ("silent", "previews", "breaking_only", "digest")

    async def settings(self, dest: Destination, kind: ChatKind, auth: Authority) -> Menu:
        """The menu of `dest`, or the reason the user may not change it."""
        refusal = await self._refusal(dest, kind, auth)
        if refusal is not None:
            return Menu(refusal, ok=False)
        return await self.menu(dest)

    async def menu(self, dest: Destination, note: str = "") -> Menu:
        topics = [t for t in await self.subscriptions.topics(dest) if self.config.topic(t)]
        if not topics:
            return Menu(say("none"))
        stored = await self.subscriptions.settings.get(dest)
        groups = []
        for slug in topics[:MAX_GROUPS]:
            topic = self.config.topic(slug)
            assert topic is not None
            chosen = stored.of(slug)
            choices = tuple(
                Choice(f"{say(name)}: {value_label(name, chosen, topic)}",
                       f"{PREFIX}:{slug}:{name}")
                for name in self._names(dest.platform)
            )  # fmt: skip
            groups.append(Group(topic.title, choices, slug))
        lines = [note, say("title")] if note else [say("title")]
        if len(topics) > MAX_GROUPS:
            lines.append(say("more").format(shown=MAX_GROUPS))
        return Menu("\n".join(lines), tuple(groups))

    async def press(
        self, data: str, dest: Destination, kind: ChatKind, auth: Authority, editor: str = ""
    ) -> Pressed:
        """Apply the choice `data` made in `dest` by `editor` (`<platform>:<user id>`)."""
        if data.partition(":")[0] in RECENT_CHOICES:
            return await self._recent_press(data, editor, auth)
        refusal = await self._refusal(dest, kind, auth)
        if refusal is not None:
            return Pressed(None, refusal, alert=True)
        menu, answer = await self._settings_press(data, dest)
        return Pressed(menu, answer)

    async def _settings_press(self, data: str, dest: Destination) -> tuple[Menu, str]:
        prefix, _, rest = data.partition(":")
        slug, _, name = rest.partition(":")
        topic = self.config.topic(slug)
        if prefix != PREFIX or topic is None or name not in self._names(dest.platform):
            return await self.menu(dest), say("stale")
        if slug not in await self.subscriptions.topics(dest):
            text = say("gone").format(topic=topic.title)
            return await self.menu(dest, text), text
        stored = await self.subscriptions.settings.get(dest)
        new = stored.of(slug).toggled(name)
        await self.subscriptions.settings.set(dest, slug, new)
        log.info("settings dest=%s topic=%s %s=%s", dest, slug, name, getattr(new, name))
        text = say("changed").format(
            topic=topic.title, setting=say(name), value=value_label(name, new, topic)
        )
        return await self.menu(dest), text

    # /recent ---------------------------------------------------------------------------------

    async def posted(self, editor: str, update_id: str) -> None:
        """Remember that `editor` (`<platform>:<user id>`) posted `update_id` from a chat."""
        if self.posts is not None:
            await self.posts.remember(editor, update_id)

    async def recent(self, editor: str, auth: Authority, note: str = "") -> Menu:
        """The editor's last updates with choices to edit or delete each."""
        if not await auth.is_editor():
            return Menu(say("editors_only"), ok=False, name="recent")
        if self.posts is None or self.ingest is None:
            return Menu(say("recent_none"), name="recent")
        live = []
        for update_id in await self.posts.ids(editor):
            update = await self.ingest.latest(update_id)
            if update is not None and update.action is not Action.DELETE:
                live.append(update)
        lines = [note, ""] if note else []
        if not live:
            return Menu("\n".join([*lines, say("recent_none")]), name="recent")
        lines.append(say("recent"))
        lines += [f"• {u.id}: {u.headline[:80]} ({u.topic})" for u in live]
        fits = [u for u in live if len(f"delok:{u.id}".encode()) <= MAX_DATA]
        edit = tuple(Choice(u.headline[:60], f"edit:{u.id}") for u in fits)
        delete = tuple(Choice(u.headline[:60], f"del:{u.id}") for u in fits)
        groups = (Group(say("edit_group"), edit, "edit"),
                  Group(say("delete_group"), delete, "delete"))  # fmt: skip
        return Menu("\n".join(lines), groups if fits else (), name="recent")

    async def _recent_press(self, data: str, editor: str, auth: Authority) -> Pressed:
        if not await auth.is_editor():
            return Pressed(None, say("editors_only"), alert=True)
        action, _, update_id = data.partition(":")
        assert self.ingest is not None, "a /recent menu is only shown where updates can change"
        update = await self.ingest.latest(update_id) if update_id else None
        if action != "recent" and (update is None or update.action is Action.DELETE):
            text = say("already").format(id=update_id)
            return Pressed(await self.recent(editor, auth, text), text)
        if action == "edit" and update is not None:
            text = say("edit_how").format(id=update.id, headline=update.headline)
            return Pressed(None, text, edit=update.id)
        if action == "del" and update is not None:
            text = say("confirm").format(id=update.id, headline=update.headline[:80])
            choices = (Choice(say("yes_delete"), f"delok:{update.id}"),
                       Choice(say("keep"), "recent:"))  # fmt: skip
            return Pressed(Menu(text, (Group(text, choices, "confirm"),), name="recent"), text)
        if action == "delok":
            try:
                await self.ingest.delete(update_id)
            except UnknownUpdate:
                text = say("already").format(id=update_id)
            else:
                text = say("deleted").format(id=update_id)
                log.info("deleted from /recent update=%s editor=%s", update_id, editor)
            return Pressed(await self.recent(editor, auth, text), text)
        return Pressed(await self.recent(editor, auth), "")
