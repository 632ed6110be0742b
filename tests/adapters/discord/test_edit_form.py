"""/edit on Discord never destroys content: a body the form cannot hold is left out and kept,
caption and credit can be changed, and a field the editor did not change never changes."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_sandbox.discord import DiscordSandbox

from relay.adapters.discord import DiscordAdapter
from relay.adapters.discord.forms import UpdateForm, parse_photo, photo_text
from relay.changes import UNSET
from relay.commands import Commands
from relay.config import Config
from relay.model import Image, Update
from tests.adapters.discord.test_commands import Member, _inputs, posts, text
from tests.helpers import Pipeline
from tests.sandbox.discord.conftest import Newsroom

PHOTO = Image("https://example.org/dam.jpg", "The dam at dawn\nseen from the east bank", "AP")
# 10,000 characters in paragraphs: the longest body an update may have
_TEXT = "\n\n".join(f"Paragraph {i}. " + "The water keeps rising. " * 45 for i in range(10))
BODY = _TEXT[:9_990].rstrip() + "." * (10_000 - len(_TEXT[:9_990].rstrip()))


def form_of(result: Any) -> tuple[dict[str, str], list[dict[str, Any]]]:
    assert result.response_type == 9 and result.response_data is not None
    components = result.response_data["components"]
    return _inputs(components), components


async def test_editing_only_the_headline_of_a_10000_character_body_keeps_it_whole(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, editor_id: int,
    commands: Commands, client: aioredis.Redis, discord_config: Config,
) -> None:  # fmt: skip
    owner, editor = (
        Member(sandbox, newsroom, newsroom.owner_id),
        Member(sandbox, newsroom, editor_id),
    )
    await owner.run("subscribe", {"topic": "ukraine"})
    assert len(BODY) == 10_000
    await commands.ingest.publish(Update("dam-1", "ukraine", headline="Dam breached", body=BODY,
                                         link="https://example.org/a", image=PHOTO))  # fmt: skip
    pipeline = Pipeline(client, discord_config, adapters=[bot])
    await pipeline.drain()
    before = [v.embeds for v in posts(sandbox, newsroom.live_id)]
    assert len(before) == 2  # 10,000 characters take two messages

    shown, components = form_of(await editor.open("edit", {"id": "dam-1"}))
    assert "body" not in shown  # not a cut body the editor could cut the update with
    notes = [c["content"] for c in components if c.get("type") == 10]
    assert notes and "10,000 characters" in notes[0] and "stays exactly as it is" in notes[0]
    edited = await editor.submit("relay:edit", {**shown, "headline": "Dam breached, 3 dead"})
    assert text(edited).startswith("Edited update dam-1 (revision 2)")

    latest = await commands.ingest.latest("dam-1")  # what every platform's copy is made from
    assert latest is not None and latest.revision == 2
    assert latest.headline == "Dam breached, 3 dead"
    assert (latest.body, latest.link, latest.image) == (BODY, "https://example.org/a", PHOTO)
    await pipeline.drain()
    after = posts(sandbox, newsroom.live_id)
    assert [v.deleted for v in after] == [False, False]
    assert after[0].embeds[0]["title"] == "Dam breached, 3 dead"
    descriptions = [[e.get("description") for e in v.embeds] for v in after]
    assert descriptions == [[e.get("description") for e in embeds] for embeds in before]


async def test_caption_and_credit_are_in_the_form_and_change_alone(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, editor_id: int,
    commands: Commands,
) -> None:  # fmt: skip
    editor = Member(sandbox, newsroom, editor_id)
    await commands.ingest.publish(Update("dam-2", "ukraine", headline="Dam breached",
                                         body="Short report.", image=PHOTO))  # fmt: skip
    shown, _ = form_of(await editor.open("edit", {"id": "dam-2"}))
    assert shown["body"] == "Short report."
    assert (
        shown["image"]
        == "https://example.org/dam.jpg\nAP\nThe dam at dawn\nseen from the east bank"
    )
    photo = "https://example.org/dam.jpg\nPhoto: Reuters\nThe dam at dawn\nseen from the east bank"
    edited = await editor.submit("relay:edit", {**shown, "image": photo})
    assert text(edited).startswith("Edited update dam-2 (revision 2)")
    latest = await commands.ingest.latest("dam-2")
    assert latest is not None and latest.image == Image(PHOTO.url, PHOTO.caption, "Photo: Reuters")
    assert (latest.headline, latest.body) == ("Dam breached", "Short report.")

    await editor.open("edit", {"id": "dam-2"})
    edited = await editor.submit("relay:edit", {**shown, "image": photo, "body": "Longer report."})
    latest = await commands.ingest.latest("dam-2")
    assert latest is not None and latest.revision == 3 and latest.body == "Longer report."
    assert latest.image is not None and latest.image.credit == "Photo: Reuters"


async def test_the_post_form_takes_a_photo_with_credit_and_caption(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, editor_id: int,
    commands: Commands,
) -> None:  # fmt: skip
    editor = Member(sandbox, newsroom, editor_id)
    await editor.open("post", {"topic": "ukraine"})
    posted = await editor.submit("relay:post", {
        "topic": "ukraine", "headline": "Dam breached", "body": "First report.", "link": "",
        "image": "https://example.org/dam.jpg\nAP\nThe dam at dawn",
    })  # fmt: skip
    update_id = text(posted).split()[2]
    latest = await commands.ingest.latest(update_id)
    assert latest is not None and latest.image == Image(PHOTO.url, "The dam at dawn", "AP")
    await editor.open("post", {"topic": "ukraine"})
    refused = await editor.submit("relay:post", {
        "topic": "ukraine", "headline": "Dam", "body": "", "link": "", "image": "\nAP\nno URL",
    })  # fmt: skip
    assert text(refused).startswith("Nothing was changed: image.url: must be an absolute")


one_line = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40)
updates = st.builds(
    Update, st.just("u1"), st.just("ukraine"),
    headline=one_line.filter(str.strip),
    body=st.one_of(st.text(max_size=50), st.just(BODY)),
    link=st.none() | st.just("https://example.org/a"),
    image=st.none() | st.builds(Image, st.just("https://example.org/p.jpg"),
                                st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
                                one_line),
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(current=updates, field=st.sampled_from(["headline", "body", "link", "image", None]))
async def test_a_field_left_as_shown_never_changes(current: Update, field: str | None) -> None:
    """Submit the form as prefilled, with at most one field changed: only that field is set."""

    async def unused(*_: object) -> None:
        return None

    form = UpdateForm(title="Edit", custom_id="relay:edit", on_submit=unused, with_topic=False,
                      current=current)  # fmt: skip
    new = {"headline": "Another headline", "body": "Another body", "link": "",
           "image": "https://example.org/q.jpg\nDesk\nA caption"}  # fmt: skip
    inputs = {"headline": form.headline, "body": form.body, "link": form.link, "image": form.image}
    for name, item in inputs.items():
        if item is not None:
            item._value = new[name] if name == field else (item.default or "")
    changes = form.changes(current).set_fields()
    expected = set() if field is None or (field == "body" and form.body is None) else {field}
    if field == "link" and current.link is None:
        expected = set()  # emptied a field that was empty
    assert set(changes) == expected
    if field == "image":
        assert changes["image"] == Image("https://example.org/q.jpg", "A caption", "Desk")
    assert form.changes(current).headline is UNSET or field == "headline"


def test_a_photo_reads_back_as_the_form_shows_it() -> None:
    for image in (PHOTO, Image("https://example.org/p.jpg"), Image("https://e.org/p", "c", "")):
        assert parse_photo(photo_text(image)) == image
    assert parse_photo("") is None and parse_photo(" \n \n ") is None
