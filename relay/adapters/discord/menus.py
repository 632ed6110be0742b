"""`/settings` and `/recent` on Discord: ephemeral answers with select menus.

`/settings`: one select per subscribed topic, listing its settings with their current values;
choosing one toggles it (checked again: Manage Channels, as for /subscribe) and the answer is
updated in place (UPDATE_MESSAGE) with the new values. `/recent`: an "Edit…" and a "Delete…"
select of the editor's last updates; Edit opens the same form as `/edit` (a modal, prefilled),
Delete asks to confirm in the answer first. Every worker's gateway session receives the
choice; the one that claims the interaction answers it (`relay.claims`), as for slash commands.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from relay.adapters.discord.auth import InteractionAuthority
from relay.adapters.discord.speech import FAILED, in_language
from relay.claims import Claims
from relay.commands import ChatKind
from relay.config import Editors
from relay.i18n import _
from relay.menus import Menu, Menus, Pressed
from relay.model import Destination

log = logging.getLogger(__name__)
PREFIXES = ("relay:settings:", "relay:recent:")  # a select's custom id: + the group's key
VIEW_SECONDS = 600.0  # how long discord.py keeps the menu's view in memory
CLAIM_SECONDS = 900
NO_MENTIONS = discord.AllowedMentions.none()
OpenEdit = Callable[[discord.Interaction, str], Awaitable[None]]


def content(menu: Menu, note: str = "") -> str:
    """The answer's text: the settings of each topic, readable without opening a menu."""
    lines = [note, ""] if note else []
    lines.append(menu.text)
    for group in menu.groups:
        lines.append(f"**{group.title}**: " + " · ".join(c.label for c in group.choices))
    return "\n".join(lines)[:2000]


def view(menu: Menu) -> discord.ui.View:
    """One select menu per topic; an option per setting (its value is the choice's data)."""
    shown = discord.ui.View(timeout=VIEW_SECONDS)
    for group in menu.groups:
        options = [discord.SelectOption(label=c.label[:100], value=c.data) for c in group.choices]
        shown.add_item(discord.ui.Select(custom_id=f"relay:{menu.name}:{group.key}"[:100],
                                         options=options[:25],
                                         placeholder=group.title[:150]))  # fmt: skip
    return shown


class SettingsMenu:
    """Answers `/settings` and the choices made in its menus."""

    def __init__(self, menus: Menus, claims: Claims, editors: Editors, open_edit: OpenEdit) -> None:
        self.menus = menus
        self.claims = claims
        self.editors = editors
        self.open_edit = open_edit  # opens the /edit form of an update

    @in_language
    async def command(self, interaction: discord.Interaction, name: str = "settings") -> None:
        dest = Destination("discord", str(interaction.channel_id))
        auth = InteractionAuthority(interaction, self.editors)
        try:
            if name == "recent":
                menu = await self.menus.recent(f"discord:{interaction.user.id}", auth)
            else:
                menu = await self.menus.settings(dest, ChatKind.GROUP, auth)
        except Exception:
            log.exception("settings failed interaction=%s", interaction.id)
            menu = Menu(_(FAILED), ok=False)
        answer = interaction.response
        if menu.groups:
            await answer.send_message(content(menu), ephemeral=True, view=view(menu),
                                      allowed_mentions=NO_MENTIONS)  # fmt: skip
        else:
            await answer.send_message(content(menu), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @in_language
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A choice in a settings menu (other interactions are not ours here)."""
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id") or "")
        ours = custom_id.startswith(PREFIXES)
        if interaction.type is not discord.InteractionType.component or not ours:
            return
        try:
            if not await self.claims.claim_interaction("discord", str(interaction.id),
                                                       CLAIM_SECONDS):  # fmt: skip
                return  # another worker answers it
        except Exception:  # Redis unreachable: answering twice beats never answering
            log.exception("could not claim interaction=%s", interaction.id)
        values: list[Any] = list(data.get("values") or [])
        dest = Destination("discord", str(interaction.channel_id))
        auth = InteractionAuthority(interaction, self.editors)
        editor = f"discord:{interaction.user.id}"
        try:
            pressed = await self.menus.press(str(values[0]) if values else "", dest,
                                             ChatKind.GROUP, auth, editor)  # fmt: skip
        except Exception:
            log.exception("menu choice failed interaction=%s", interaction.id)
            pressed = Pressed(None, _(FAILED), alert=True)
        menu = pressed.menu
        log.info("menu choice chat=%s user=%s values=%s changed=%s",
                 dest, interaction.user.id, values, menu is not None)  # fmt: skip
        if pressed.edit is not None:
            await self.open_edit(interaction, pressed.edit)
        elif menu is None:
            await interaction.response.send_message(pressed.answer, ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)  # fmt: skip
        else:
            shown = view(menu) if menu.groups else None
            await interaction.response.edit_message(content=content(menu, pressed.answer),
                                                    view=shown)  # fmt: skip
