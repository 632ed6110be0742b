"""The update registry: the latest revision of each update, decoded once, written atomically."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from relay import model
from relay.changes import Changes
from relay.config import Config
from relay.errors import InvalidUpdate
from relay.ingest import Ingest
from relay.keys import Keys
from relay.ledger import Copy, Ledger, parse_copy
from relay.model import Destination, Update
from relay.registry import Registry

KEYS = Keys()
A = Destination("memory", "a")


@pytest.fixture
def ingest(client: aioredis.Redis, config: Config) -> Ingest:
    return Ingest(client, KEYS, config.topic_slugs, 1000)


async def test_latest_is_decoded_once_per_revision(ingest: Ingest, client: aioredis.Redis) -> None:
    registry = Registry(client, KEYS)
    assert await registry.latest("u1") is None
    await ingest.publish(Update("u1", "ukraine", headline="First"))
    first = await registry.latest("u1")
    assert first is not None and first.headline == "First"
    # Every destination of an update reads the same bytes: they share one decoded record.
    assert await registry.latest("u1") is first
    assert await ingest.latest("u1") is first  # ingest reads through the same owner
    await ingest.delete("u1")
    deleted = await registry.latest("u1")
    assert deleted is not first and deleted is not None and deleted.revision == 2


async def test_a_read_joins_a_round_trip_with_the_ledger(
    ingest: Ingest, client: aioredis.Redis
) -> None:
    accepted = await ingest.publish(Update("u1", "ukraine", headline="Batched"))
    registry, ledger = Registry(client, KEYS), Ledger(client, KEYS, 60)
    await ledger.record("u1", A, Copy(1, ("m1",)))
    async with client.pipeline(transaction=False) as pipe:
        registry.latest_in(pipe, "u1")
        ledger.get_in(pipe, "u1", A)
        raw_update, raw_copy = await pipe.execute()
    assert registry.parse(raw_update) == accepted.update
    assert parse_copy(raw_copy) == Copy(1, ("m1",))
    assert registry.parse(None) is None


async def test_a_write_fails_when_another_writer_changed_the_update_first(
    ingest: Ingest, client: aioredis.Redis
) -> None:
    await ingest.publish(Update("u1", "ukraine", headline="Original"))
    registry = Registry(client, KEYS)
    async with client.pipeline(transaction=True) as pipe:
        prev = await registry.watch(pipe, "u1")
        assert prev is not None and prev.revision == 1
        await ingest.delete("u1")  # another writer, between the read and the write
        pipe.multi()  # type: ignore[no-untyped-call]
        edited = model.Update("u1", "ukraine", headline="Lost race", revision=2)
        registry.write_in(pipe, edited, model.encode(edited))
        with pytest.raises(WatchError):
            await pipe.execute()
    latest = await registry.latest("u1")
    assert latest is not None and latest.action is model.Action.DELETE


async def test_the_entry_of_the_latest_revision_is_kept(
    ingest: Ingest, client: aioredis.Redis
) -> None:
    registry = Registry(client, KEYS)
    assert await registry.entry("u1") == ""
    accepted = await ingest.publish(Update("u1", "ukraine", headline="Entry"))
    assert await registry.entry("u1") == accepted.entry_id


async def test_stored_updates_expire_with_the_ledger(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> None:
    """Issue 11, item 4: stored updates never expired (Valkey grew 62 → 959 MiB in a flood)."""
    ingest = Ingest.from_config(client, make_config(dispatcher={"ledger_ttl_days": 1}))
    await ingest.publish(Update("u1", "ukraine", headline="Expires"))
    assert 86_400 - 60 < await client.ttl(KEYS.update("u1")) <= 86_400
    await client.expire(KEYS.update("u1"), 100)
    await ingest.edit("u1", Changes(headline="Lives a day again"))  # from its last revision
    assert await client.ttl(KEYS.update("u1")) > 86_400 - 60


async def test_a_stored_update_that_does_not_decode_is_a_clear_error(
    ingest: Ingest, client: aioredis.Redis
) -> None:
    await ingest.publish(Update("u1", "ukraine", headline="Fine"))
    await client.hset(KEYS.update("u1"), "json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(InvalidUpdate) as read:
        await ingest.latest("u1")
    assert (read.value.field, read.value.message) == (
        "id",
        "the stored update 'u1' cannot be read (update: not valid JSON: nested too deeply)",
    )
    with pytest.raises(InvalidUpdate, match="cannot be read"):
        await ingest.edit("u1", Changes(headline="Fix"))
