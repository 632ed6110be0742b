"""Who may do what, answered from a Discord interaction (editors, Manage Channels, bot perms)."""

from __future__ import annotations

import discord

from relay.config import Editors
from relay.i18n import _, ngettext
from relay.model import Destination

# What the bot needs to deliver embeds. Attach Files is not: a photo given by URL is an embed
# image; one uploaded by an editor (the media store) is an attachment, left out without it.
NEEDED = (("view_channel", "View Channel"), ("send_messages", "Send Messages"),
          ("embed_links", "Embed Links"))  # fmt: skip
NEEDED_IN_THREADS = (("view_channel", "View Channel"),
                     ("send_messages_in_threads", "Send Messages in Threads"),
                     ("embed_links", "Embed Links"))  # fmt: skip


def role_ids(interaction: discord.Interaction) -> set[int]:
    """The invoking member's role ids (none in DMs)."""
    roles = getattr(interaction.user, "roles", None) or []
    return {int(r.id) for r in roles}


def is_editor(interaction: discord.Interaction, editors: Editors) -> bool:
    """Configured editor user ids, or members holding a configured editor role."""
    return interaction.user.id in editors.discord_users or bool(
        role_ids(interaction) & editors.discord_roles
    )


def bot_lacks(interaction: discord.Interaction) -> list[str]:
    """The permissions the bot is missing to deliver into the interaction's channel."""
    perms = interaction.app_permissions
    channel = interaction.channel
    in_thread = isinstance(channel, discord.Thread)
    needed = NEEDED_IN_THREADS if in_thread else NEEDED
    return [label for attr, label in needed if not getattr(perms, attr)]


def photo_note(interaction: discord.Interaction) -> str | None:
    """What a channel subscribing misses while the bot lacks Attach Files; None if nothing."""
    if interaction.app_permissions.attach_files:
        return None
    return _(
        "Photos editors upload will arrive here without the picture until I have the Attach "
        "Files permission in this channel."
    )


class InteractionAuthority:
    """`relay.commands.Authority` for one interaction.

    Managing subscriptions needs Manage Channels in the channel where the command is run
    (Discord computes `interaction.permissions` with the channel's overwrites). With
    `check_bot`, subscribing also needs the bot's own permissions to post there.
    """

    def __init__(
        self, interaction: discord.Interaction, editors: Editors, *, check_bot: bool = False
    ) -> None:
        self.interaction = interaction
        self.editors = editors
        self.check_bot = check_bot

    async def is_editor(self) -> bool:
        return is_editor(self.interaction, self.editors)

    async def may_manage(self, dest: Destination) -> str | None:
        if dest.chat_id != str(self.interaction.channel_id):
            return _("Run this command in the channel it is about.")
        if not self.interaction.permissions.manage_channels:
            return _(
                "Only members with the Manage Channels permission in this channel can do that."
            )
        if self.check_bot:
            lacking = bot_lacks(self.interaction)
            if lacking:
                text = ngettext(
                    "I cannot post here: I am missing the {permissions} permission in this "
                    "channel. Nothing was changed.",
                    "I cannot post here: I am missing the {permissions} permissions in this "
                    "channel. Nothing was changed.",
                    len(lacking),
                )
                return text.format(permissions=", ".join(lacking))
        return None
