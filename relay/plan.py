"""What one destination needs so that its copy of an update shows the latest revision.

Decided from the update's latest revision and the destination's copy in the ledger alone, so
a job served twice does nothing the second time.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum

from relay.ledger import Copy
from relay.model import Action, Update


class Op(Enum):
    SEND = "send"
    RESUME = "resume"  # send the parts a send cut short did not deliver
    EDIT = "edit"
    DELETE = "delete"


def plan(update: Update, copy: Copy | None) -> Op | None:
    """What the destination needs so that its copy shows `update`."""
    if copy is not None and copy.lost:
        return None  # edits cannot reach it (the chat is gone, or became another chat)
    if update.action is Action.DELETE:
        live = copy is not None and not copy.deleted and not copy.digest
        return Op.DELETE if live else None
    if copy is None:
        return Op.SEND  # the original never went out here: send the latest revision
    if copy.digest or copy.deleted or copy.revision > update.revision:
        return None
    if copy.partial:
        return Op.RESUME if copy.revision == update.revision else Op.EDIT
    return Op.EDIT if copy.revision < update.revision else None


def cut_short(update: Update, op: Op, copy: Copy | None, ids: tuple[str, ...]) -> Copy:
    """The copy a destination has after a call that failed part way left it `ids`.

    A send cut short is the latest revision's first parts (the retry sends the rest); an edit
    cut short still counts as the old revision (the retry edits every part again).
    """
    if op in (Op.SEND, Op.RESUME) or copy is None:
        return Copy(update.revision, ids, partial=True)
    return replace(copy, message_ids=ids)
