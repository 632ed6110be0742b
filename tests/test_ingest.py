"""Ingest: topics must be configured, revisions grow by one, edits and deletes need a known id."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from relay import model
from relay.changes import Changes
from relay.errors import InvalidUpdate, UnknownUpdate
from relay.ingest import Ingest
from relay.keys import Keys
from relay.model import Action, Image, Update

KEYS = Keys()


@pytest.fixture
def ingest(client: aioredis.Redis) -> Ingest:
    return Ingest(client, KEYS, ["ukraine", "climate"], max_backlog=1000)


async def _stream_updates(client: aioredis.Redis) -> list[Update]:
    return [model.decode(f[b"update"]) for _, f in await client.xrange(KEYS.updates)]


async def test_publish_edit_delete_revisions(ingest: Ingest, client: aioredis.Redis) -> None:
    await ingest.publish(Update("u1", "ukraine", headline="Talks", body="First", link=None))
    changes = Changes(body="Corrected", image=Image("https://x.org/p.jpg"))
    edited = await ingest.edit("u1", changes)
    assert edited.update.revision == 2 and edited.update.action is Action.EDIT
    assert edited.update.headline == "Talks" and edited.update.body == "Corrected"
    assert edited.update.image == Image("https://x.org/p.jpg")
    deleted = await ingest.delete("u1")
    assert deleted.update.revision == 3 and deleted.update.action is Action.DELETE
    assert [(u.revision, u.action) for u in await _stream_updates(client)] == [
        (1, Action.PUBLISH), (2, Action.EDIT), (3, Action.DELETE)
    ]  # fmt: skip


async def test_bad_input_changes_nothing(ingest: Ingest, client: aioredis.Redis) -> None:
    with pytest.raises(InvalidUpdate) as info:
        await ingest.publish(Update("u1", "sport", headline="h"))
    assert info.value.field == "topic" and "configured: climate, ukraine" in info.value.message
    with pytest.raises(UnknownUpdate):
        await ingest.edit("nope", Changes(headline="x"))
    with pytest.raises(UnknownUpdate):
        await ingest.delete("nope")
    await ingest.publish(Update("u1", "ukraine", headline="h"))
    with pytest.raises(InvalidUpdate) as info:
        await ingest.edit("u1", Changes())
    assert info.value.field == "changes" and info.value.message == "nothing to change"
    assert len(await _stream_updates(client)) == 1
    assert (await ingest.latest("u1")).revision == 1  # type: ignore[union-attr]


async def test_same_id_twice(ingest: Ingest, client: aioredis.Redis) -> None:
    first = await ingest.publish(Update("u1", "ukraine", headline="Same"))
    retry = await ingest.publish(Update("u1", "ukraine", headline="Same"))
    assert retry.duplicate and retry.entry_id == first.entry_id
    with pytest.raises(InvalidUpdate, match="already exists"):
        await ingest.publish(Update("u1", "ukraine", headline="Different"))
    assert len(await _stream_updates(client)) == 1


async def test_a_deleted_update_cannot_be_edited(ingest: Ingest) -> None:
    await ingest.publish(Update("u1", "ukraine", headline="h"))
    await ingest.delete("u1")
    with pytest.raises(InvalidUpdate, match="was deleted"):
        await ingest.edit("u1", Changes(headline="again"))
    with pytest.raises(InvalidUpdate, match="was deleted"):
        await ingest.delete("u1")


async def test_concurrent_edits_get_distinct_revisions(
    ingest: Ingest, client: aioredis.Redis
) -> None:
    await ingest.publish(Update("u1", "ukraine", headline="h"))
    results = await asyncio.gather(*(ingest.edit("u1", Changes(body=f"v{i}")) for i in range(20)))
    assert sorted(r.update.revision for r in results) == list(range(2, 22))
    revisions = [u.revision for u in await _stream_updates(client)]
    assert revisions == list(range(1, 22))  # stream order is revision order
