"""Words of the bots' replies that the platform-neutral commands and the adapters share.

Marked for the catalogues (relay.i18n); each function translates into the language of the
moment (the user's, set by `relay.commands.Commands.handle` or by the adapter).
"""

from __future__ import annotations

from relay.errors import InvalidUpdate
from relay.i18n import N_, _, ngettext

DESCRIPTIONS = {  # in English; a menu in another language: translate(lang).gettext(…)
    "start": N_("Start here"),
    "help": N_("What this bot does and how to use it"),
    "topics": N_("List the topics you can subscribe to"),
    "subscribe": N_("Receive a topic's live updates here"),
    "unsubscribe": N_("Stop receiving a topic (or all)"),
    "subscriptions": N_("List the topics this chat receives"),
    "post": N_("Editors: publish an update"),
    "edit": N_("Editors: correct an update everywhere"),
    "delete": N_("Editors: withdraw an update everywhere"),
    "preview": N_("Editors: see an update rendered, without publishing"),
}
# The confirmations an editor replies to (to /edit or /delete that update): the Telegram
# adapter finds the id in them, in any language (relay.adapters.telegram.handlers)
PUBLISHED = N_("Published update {id} to {topic}: on its way to {chats}.")
EDITED = N_("Edited update {id} (revision {revision}); every copy is being corrected.")


def editors_only(command: str) -> str:
    """The refusal of an editors' command to anyone else (in the language of the moment)."""
    return _("Only the newsroom's editors can use /{command}.").format(command=command)


def published(update_id: str, topic: str, count: int) -> str:
    """An editor's confirmation of /post: `count` chats will receive it."""
    chats = ngettext("{count} subscribed chat", "{count} subscribed chats", count)
    return _(PUBLISHED).format(id=update_id, topic=topic, chats=chats.format(count=f"{count:,}"))


def invalid(exc: InvalidUpdate) -> str:
    """The refusal of an update that does not validate."""
    return _("Nothing was changed: {field}: {problem}.").format(field=exc.field,
                                                               problem=exc.said())  # fmt: skip


def no_update(update_id: str) -> str:
    """The refusal of an update id that names no update."""
    return _("There is no update with id {id}.").format(id=update_id)
