"""Claims in Redis: one poller per bot token, one answer per interaction, across workers."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from relay.adapter import AdapterContext
from relay.claims import DONE, WORKING, Claims
from relay.commands import Commands
from relay.config import Config
from relay.ingest import Ingest
from relay.keys import Keys
from relay.subscriptions import Subscriptions

KEYS = Keys()


def test_keys_are_the_ones_workers_of_earlier_versions_use() -> None:
    # A rolling upgrade runs old and new workers side by side: they must contend for one key.
    assert KEYS.poller("telegram", "123") == "relay:telegram:123:poller"
    assert KEYS.interaction("discord", "987") == "relay:discord:interaction:987"


async def test_one_worker_holds_the_poll_lease_until_it_lets_go(client: aioredis.Redis) -> None:
    # Two workers: two Claims, each with its own lease owner, on one bot.
    first = Claims(client, KEYS).poll_lease("telegram", "123", ttl=15.0)
    second = Claims(client, KEYS).poll_lease("telegram", "123", ttl=15.0)
    other_bot = Claims(client, KEYS).poll_lease("telegram", "456", ttl=15.0)
    assert await first.hold() is True
    assert await second.hold() is False
    assert await other_bot.hold() is True  # one lease per bot, not one for all
    assert await first.hold() is True  # renewing our own
    await second.release()  # not the holder: changes nothing
    assert await second.hold() is False
    await first.release()
    assert await second.hold() is True
    assert await first.hold() is False


async def test_the_poll_lease_expires_unless_renewed(client: aioredis.Redis) -> None:
    lease = Claims(client, KEYS).poll_lease("telegram", "123", ttl=15.0)
    await lease.hold()
    assert 0 < await client.pttl(KEYS.poller("telegram", "123")) <= 15_000


async def test_only_the_first_claim_of_an_interaction_wins(client: aioredis.Redis) -> None:
    a, b = Claims(client, KEYS), Claims(client, KEYS)
    assert await a.claim_interaction("discord", "1", ttl=900) is True
    assert await b.claim_interaction("discord", "1", ttl=900) is False
    assert await a.claim_interaction("discord", "1", ttl=900) is False  # not even twice by one
    assert await b.claim_interaction("discord", "2", ttl=900) is True
    assert 0 < await client.ttl(KEYS.interaction("discord", "1")) <= 900


async def test_a_listening_context_needs_claims_registry_and_subscriptions(
    client: aioredis.Redis, config: Config
) -> None:
    ingest = Ingest(client, KEYS, config.topic_slugs, 1000)
    subscriptions = Subscriptions(client, KEYS)
    commands = Commands(config, ingest, subscriptions)
    with pytest.raises(ValueError, match="needs claims"):
        AdapterContext(commands)
    with pytest.raises(ValueError, match="needs claims"):
        AdapterContext(commands, Claims(client, KEYS), ingest.registry)
    full = AdapterContext(commands, Claims(client, KEYS), ingest.registry, subscriptions)
    assert full.commands is commands
    assert AdapterContext().commands is None  # delivering only: nothing else needed


async def test_a_webhook_update_is_leased_while_worked_on_then_done_for_everyone(
    client: aioredis.Redis,
) -> None:
    first, second = Claims(client, KEYS), Claims(client, KEYS)
    assert await first.claim_update("telegram", "123", 9, lease=15) is None  # first: works on it
    assert await second.claim_update("telegram", "123", 9, lease=15) == WORKING
    assert await second.claim_update("telegram", "456", 9, lease=15) is None  # another bot's 9
    await first.finish_update("telegram", "123", 9, ttl=3600)
    assert await second.claim_update("telegram", "123", 9, lease=15) == DONE
    assert 3000 < await client.ttl(KEYS.delivered_update("telegram", "123", 9)) <= 3600
    # A worker that died while working: its lease ends, and the next claim gets the update.
    assert await first.claim_update("telegram", "123", 10, lease=15) is None
    await client.delete(KEYS.delivered_update("telegram", "123", 10))  # what the lease's end does
    assert await second.claim_update("telegram", "123", 10, lease=15) is None
