"""The adapter contract, part one: rendering, send, edit and delete, the same for every adapter.

Each test runs once per harness (`tests/adapters/conftest.py`): memory, Telegram, Discord.
Assertions are about limits, ids and the words a reader finds, never the exact markup.
"""

from __future__ import annotations

import dataclasses

import pytest

from relay.model import Action, Update
from tests.adapters.contract import CAPABILITIES, CASES, TOPIC, Harness, Shown, update


def joined(shown: list[Shown]) -> str:
    # Parts may be cut anywhere (the memory adapter cuts mid-word): read the copy whole.
    return "".join(s.text for s in shown)


def revised(base: Update, revision: int, body: str) -> Update:
    return dataclasses.replace(base, revision=revision, action=Action.EDIT, body=body)


def test_every_capability_is_declared_or_explained(harness: Harness) -> None:
    for capability in CAPABILITIES:
        if capability not in harness.capabilities:
            assert harness.lacks.get(capability, "").strip(), f"{capability} left unexplained"
    assert harness.capabilities <= set(CAPABILITIES)


@pytest.mark.parametrize("case", list(CASES))
def test_render_is_pure_and_every_part_is_within_the_limits(harness: Harness, case: str) -> None:
    u = CASES[case].update
    before = harness.activity()
    parts = harness.adapter.render(u, TOPIC)
    assert parts == harness.adapter.render(u, TOPIC)  # same input, same output
    assert harness.activity() == before  # and not a single call to the platform
    if CASES[case].split is not None:
        assert len(parts) > 1 if CASES[case].split else len(parts) == 1
    for part in parts:
        harness.check_part(part)


@pytest.mark.parametrize("case", list(CASES))
async def test_send_returns_one_id_per_part_and_the_chat_shows_them(
    harness: Harness, case: str
) -> None:
    dest, u = await harness.destination(), CASES[case].update
    ids = await harness.adapter.send(dest, u, TOPIC)
    assert len(ids) == len(harness.adapter.render(u, TOPIC)) == len(set(ids))
    shown = harness.shown(dest)
    assert [s.id for s in shown] == list(ids)
    text = joined(shown)
    missing = [token for token in CASES[case].tokens if token not in text]
    assert not missing, f"not shown: {missing}"
    expected = [CASES[case].photo] if CASES[case].photo else []
    assert harness.photos(dest) == expected


async def test_edit_changes_what_the_chat_shows_and_adds_or_removes_parts(
    harness: Harness,
) -> None:
    adapter, dest = harness.adapter, await harness.destination()
    first = update("Alpha111 was the first word.")
    ids = await adapter.send(dest, first, TOPIC)
    assert len(ids) == 1

    corrected = revised(first, 2, "Bravo222 is the correction.")
    assert await adapter.edit(dest, corrected, TOPIC, ids) == ids  # in place
    [shown] = harness.shown(dest)
    assert shown.id == ids[0] and "Bravo222" in shown.text and "Alpha111" not in shown.text
    # An edit that changes nothing is a success, not an error (Telegram: "not modified").
    assert await adapter.edit(dest, corrected, TOPIC, ids) == ids

    long = revised(first, 3, CASES["long body"].update.body)
    grown = await adapter.edit(dest, long, TOPIC, ids)
    assert grown[0] == ids[0] and len(grown) == len(adapter.render(long, TOPIC)) > 1
    shown_now = harness.shown(dest)
    assert [s.id for s in shown_now] == list(grown)
    assert all(t in joined(shown_now) for t in CASES["long body"].tokens)

    short = revised(first, 4, "Charlie333 is all that is left.")
    assert await adapter.edit(dest, short, TOPIC, grown) == ids  # the parts after the first go
    [shown] = harness.shown(dest)
    assert shown.id == ids[0] and "Charlie333" in shown.text and "Para001" not in shown.text


async def test_delete_removes_every_part_and_a_part_already_gone_counts_as_deleted(
    harness: Harness,
) -> None:
    adapter, dest = harness.adapter, await harness.destination()
    ids = await adapter.send(dest, CASES["photo, long body"].update, TOPIC)
    other = await adapter.send(dest, update("Delta444 stays.", id="u2"), TOPIC)
    assert len(ids) > 1
    await adapter.delete(dest, ids)
    assert [s.id for s in harness.shown(dest)] == list(other)
    assert harness.photos(dest) == []
    before = harness.activity()
    await adapter.delete(dest, ids)  # every part is gone already: still a success
    assert [s.id for s in harness.shown(dest)] == list(other)
    assert harness.activity() > before  # the platform was asked (no local shortcut) and said so
