"""`/settings` and `/recent` menus, platform-neutral: who may, what each choice does."""

from __future__ import annotations

import redis.asyncio as aioredis

from relay.chat_settings import TopicSettings
from relay.commands import ChatKind
from relay.config import Config
from relay.ingest import Ingest
from relay.menus import MAX_DATA, MAX_GROUPS, Menus
from relay.model import Action, Destination, Update
from relay.recent import KEEP
from relay.subscriptions import Subscriptions

from .test_commands import GROUP, KEYS, PRIVATE, Auth


def menus(client: aioredis.Redis, config: Config) -> Menus:
    return Menus(
        config, Subscriptions(client, KEYS), Ingest(client, KEYS, config.topic_slugs, 1000)
    )


async def test_a_private_chat_needs_no_admin_and_a_group_does(
    client: aioredis.Redis, config: Config
) -> None:
    m = menus(client, config)
    await m.subscriptions.subscribe(PRIVATE, ["ukraine", "climate"])
    await m.subscriptions.subscribe(GROUP, ["ukraine"])
    shown = await m.settings(PRIVATE, ChatKind.PRIVATE, Auth())
    assert [g.key for g in shown.groups] == ["climate", "ukraine"]
    assert [c.data for c in shown.groups[1].choices] == [
        "set:ukraine:silent", "set:ukraine:previews", "set:ukraine:breaking_only",
        "set:ukraine:digest",
    ]  # fmt: skip
    refused = await m.settings(GROUP, ChatKind.GROUP, Auth())
    assert not refused.ok and "administrators" in refused.text
    pressed = await m.press("set:ukraine:digest", GROUP, ChatKind.GROUP, Auth())
    assert pressed.menu is None and pressed.alert
    assert (await m.subscriptions.settings.get(GROUP)).of("ukraine") == TopicSettings()
    pressed = await m.press("set:ukraine:digest", GROUP, ChatKind.GROUP, Auth(manages={GROUP}))
    assert pressed.answer == "War in Ukraine: Digest when far behind is now no."
    assert (await m.subscriptions.settings.get(GROUP)).of("ukraine") == TopicSettings(digest=False)


async def test_stale_and_forged_choices_change_nothing(
    client: aioredis.Redis, config: Config
) -> None:
    m = menus(client, config)
    await m.subscriptions.subscribe(PRIVATE, ["ukraine"])
    for data in ("set:ukraine:colour", "set:nowhere:silent", "bogus", "set:ukraine"):
        pressed = await m.press(data, PRIVATE, ChatKind.PRIVATE, Auth())
        assert pressed.menu is not None and "out of date" in pressed.answer
    discord = Destination("discord", "123")
    await m.subscriptions.subscribe(discord, ["ukraine"])
    pressed = await m.press(
        "set:ukraine:previews", discord, ChatKind.GROUP, Auth(manages={discord})
    )
    assert "out of date" in pressed.answer  # an embed has no link preview to choose
    pressed = await m.press("set:climate:silent", PRIVATE, ChatKind.PRIVATE, Auth())
    assert pressed.answer == "This chat no longer receives Climate summit."
    assert (await m.subscriptions.settings.get(PRIVATE)).topics == {}


async def test_menus_fit_the_platforms_limits(client: aioredis.Redis, make_config: object) -> None:
    slugs = [f"{i}{'x' * 31}" for i in range(7)]  # the longest slugs
    config = make_config(topics=[{"slug": s} for s in slugs])  # type: ignore[operator]
    m = menus(client, config)
    await m.subscriptions.subscribe(PRIVATE, slugs)
    shown = await m.settings(PRIVATE, ChatKind.PRIVATE, Auth())
    assert len(shown.groups) == MAX_GROUPS and "first 5 topics" in shown.text
    assert all(len(c.data.encode()) <= MAX_DATA for g in shown.groups for c in g.choices)


async def test_recent_is_the_editors_own_last_posts(client: aioredis.Redis, config: Config) -> None:
    m = menus(client, config)
    assert not (await m.recent("telegram:42", Auth())).ok  # not an editor
    assert "no update" in (await m.recent("telegram:42", Auth(editor=True))).text
    assert m.ingest is not None
    for i in range(KEEP + 2):
        await m.ingest.publish(Update(f"r{i}", "ukraine", headline=f"Headline {i}"))
        await m.posted("telegram:42", f"r{i}")
    await m.posted("telegram:7", "r0")  # another editor's list
    await m.ingest.delete(f"r{KEEP + 1}")
    shown = await m.recent("telegram:42", Auth(editor=True))
    edit = [c.data for c in shown.groups[0].choices]
    assert edit == [f"edit:r{i}" for i in range(KEEP, 1, -1)]  # newest first; deleted left out
    pressed = await m.press("del:r5", PRIVATE, ChatKind.PRIVATE, Auth(), "telegram:42")
    assert pressed.alert and "editors" in pressed.answer  # checked again at the press
    pressed = await m.press("del:r5", PRIVATE, ChatKind.PRIVATE, Auth(editor=True), "telegram:42")
    assert pressed.menu is not None and "Delete update r5" in pressed.answer
    assert (await m.ingest.latest("r5")).action is Action.PUBLISH  # type: ignore[union-attr]
    pressed = await m.press("delok:r5", PRIVATE, ChatKind.PRIVATE, Auth(editor=True), "telegram:42")
    assert pressed.answer == "Deleted update r5; every copy is being removed."
    assert (await m.ingest.latest("r5")).action is Action.DELETE  # type: ignore[union-attr]
    again = await m.press("delok:r5", PRIVATE, ChatKind.PRIVATE, Auth(editor=True), "telegram:42")
    assert again.answer == "Update r5 is not there any more."
    pressed = await m.press("edit:r4", PRIVATE, ChatKind.PRIVATE, Auth(editor=True), "telegram:42")
    assert pressed.edit == "r4" and "/edit r4 Headline 4" in pressed.answer
