"""What the Discord bot says in the member's language: which language an interaction is in,
running a handler (and the tasks it starts) in it, and /help as Discord spells it."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import discord

from relay.adapters.discord.auth import InteractionAuthority
from relay.commands import Reply
from relay.i18n import N_, _, speaking

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")


def language(interaction: discord.Interaction) -> str:
    """The member's client language as Discord tags it ("uk", "en-US")."""
    return str(getattr(interaction.locale, "value", "") or "")


def in_language(
    method: Callable[Concatenate[S, discord.Interaction, P], Awaitable[T]],
) -> Callable[Concatenate[S, discord.Interaction, P], Coroutine[Any, Any, T]]:
    """Run `method` (and the tasks it starts) in the language of its interaction's member."""

    @functools.wraps(method)
    async def speaking_theirs(
        self: S, interaction: discord.Interaction, /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        with speaking(language(interaction)):
            return await method(self, interaction, *args, **kwargs)

    return speaking_theirs


FAILED = N_("The relay could not do that right now (an internal error). Nothing was changed.")
HELP = (
    N_("This bot relays the newsroom's live updates into this channel."),
    "",
    N_("/topics: list the topics"),
    N_("/subscribe topic: receive a topic in this channel (needs Manage Channels)"),
    N_("/unsubscribe topic: stop receiving a topic, or all"),
    N_("/subscriptions: what this channel receives"),
    N_("/settings: how this channel receives each topic (silent, breaking only, digest)"),
)
EDITOR_HELP = (
    "",
    N_("Editors:"),
    N_(
        "/post [topic] [breaking] [photo]: opens a form (headline, body, link, photo) and "
        "publishes it; with a photo file attached, the form asks for its caption and credit"
    ),
    N_("/preview [topic] [breaking]: the same form; shows the update rendered, publishes nothing"),
    N_(
        "/edit id [photo]: opens the update in a form; what you leave as it is stays as it "
        "is; a photo file attached replaces the update's photo"
    ),
    N_("/delete id: withdraws the update everywhere"),
    N_("/recent: your last updates, to edit or delete"),
)


async def help_reply(auth: InteractionAuthority) -> Reply:
    """/help as Discord spells it: slash commands and their options, the forms for editors."""
    lines = HELP + (EDITOR_HELP if await auth.is_editor() else ())
    return Reply("\n".join(_(line) if line else "" for line in lines))
