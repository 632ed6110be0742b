"""`/settings`: a chat's settings per topic as a menu of choices, the same on every platform.

A `Menu` is text and one `Group` of `Choice`s per topic; each platform shows it natively
(Telegram: inline keyboard buttons; Discord: one select menu per topic) and sends the `data`
of the choice pressed back to `Menus.press`, which toggles that setting and answers with the
menu as it is now. Who may: anyone in a private chat; elsewhere, who may `/subscribe` there
(`Authority.may_manage`), checked again at every press.

Every string a user reads is in `MESSAGES` (to be translated in one place).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from relay.chat_settings import TopicSettings
from relay.commands import Authority, ChatKind
from relay.config import Config, TopicConfig
from relay.model import Destination
from relay.subscriptions import Subscriptions

log = logging.getLogger(__name__)
PREFIX = "set"  # a choice's data: "set:<topic>:<setting>" (at most 46 bytes: Telegram takes 64)
MAX_GROUPS = 5  # Discord shows at most 5 select menus in a message
MENU_COMMANDS = ("settings",)  # answered by the adapters with `Menus`, not `relay.commands`
DESCRIPTIONS = {"settings": "How this chat receives each topic (admins)"}
MESSAGES = {
    "title": "Settings of this chat, per topic. Press one to change it.",
    "none": "This chat receives no topics yet. Try /topics, then /subscribe.",
    "more": "(The first {shown} topics are shown.)",
    "gone": "This chat no longer receives {topic}.",
    "stale": "That button is out of date; here are the settings as they are now.",
    "changed": "{topic}: {setting} is now {value}.",
    "silent": "Routine updates",
    "previews": "Link previews",
    "breaking_only": "Breaking news only",
    "digest": "Digest when far behind",
    "silent=on": "silent",
    "silent=off": "with a notification",
    "silent=default": "{default} (topic default)",
    "previews=on": "on",
    "previews=off": "off",
    "previews=default": "{default} (topic default)",
    "yes": "yes",
    "no": "no",
}


@dataclass(frozen=True)
class Choice:
    label: str
    data: str  # what pressing it sends back (Telegram callback_data, Discord option value)


@dataclass(frozen=True)
class Group:
    """One topic's choices."""

    title: str
    choices: tuple[Choice, ...]


@dataclass(frozen=True)
class Menu:
    text: str
    groups: tuple[Group, ...] = ()
    ok: bool = True


def value_label(name: str, settings: TopicSettings, topic: TopicConfig) -> str:
    value = getattr(settings, name)
    if isinstance(value, bool):
        return MESSAGES["yes" if value else "no"]
    default = (
        ("silent" if topic.silent else "with a notification")
        if name == "silent"
        else (topic.link_previews)
    )
    return MESSAGES[f"{name}={value}"].format(default=default)


class Menus:
    """Builds the settings menu of a chat and applies a choice made in it."""

    def __init__(self, config: Config, subscriptions: Subscriptions) -> None:
        self.config = config
        self.subscriptions = subscriptions

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
            return Menu(MESSAGES["none"])
        stored = await self.subscriptions.settings.get(dest)
        groups = []
        for slug in topics[:MAX_GROUPS]:
            topic = self.config.topic(slug)
            assert topic is not None
            chosen = stored.of(slug)
            choices = tuple(
                Choice(f"{MESSAGES[name]}: {value_label(name, chosen, topic)}",
                       f"{PREFIX}:{slug}:{name}")
                for name in self._names(dest.platform)
            )  # fmt: skip
            groups.append(Group(topic.title, choices))
        lines = [note, MESSAGES["title"]] if note else [MESSAGES["title"]]
        if len(topics) > MAX_GROUPS:
            lines.append(MESSAGES["more"].format(shown=MAX_GROUPS))
        return Menu("\n".join(lines), tuple(groups))

    async def press(
        self, data: str, dest: Destination, kind: ChatKind, auth: Authority
    ) -> tuple[Menu | None, str]:
        """Apply the choice `data`: (the menu to show now, None to leave it; a short answer)."""
        refusal = await self._refusal(dest, kind, auth)
        if refusal is not None:
            return None, refusal
        prefix, _, rest = data.partition(":")
        slug, _, name = rest.partition(":")
        topic = self.config.topic(slug)
        if prefix != PREFIX or topic is None or name not in self._names(dest.platform):
            return await self.menu(dest), MESSAGES["stale"]
        if slug not in await self.subscriptions.topics(dest):
            text = MESSAGES["gone"].format(topic=topic.title)
            return await self.menu(dest, text), text
        stored = await self.subscriptions.settings.get(dest)
        new = stored.of(slug).toggled(name)
        await self.subscriptions.settings.set(dest, slug, new)
        log.info("settings dest=%s topic=%s %s=%s", dest, slug, name, getattr(new, name))
        text = MESSAGES["changed"].format(
            topic=topic.title, setting=MESSAGES[name], value=value_label(name, new, topic)
        )
        return await self.menu(dest), text
