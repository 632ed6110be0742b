"""Nothing accepted is lost: the stream keeps what no group acknowledged; ingest refuses instead."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from relay.changes import Changes
from relay.commands import ChatKind, Commands, Invocation
from relay.config import Config
from relay.dispatcher import Dispatcher
from relay.errors import InvalidUpdate, Overloaded
from relay.ingest import Ingest
from relay.model import Destination, Update
from relay.stream import Stream
from relay.subscriptions import Subscriptions

from .helpers import KEYS, free_port
from .test_cli import write_config

A = Destination("memory", "a")


async def _drain(dispatcher: Dispatcher) -> None:
    while entries := await dispatcher.stream.read(100, 20):
        for entry in entries:
            await dispatcher.process(entry)


async def test_ingest_refuses_at_the_backlog_bound_and_changes_nothing(
    client: aioredis.Redis, config: Config
) -> None:
    await Stream(client, KEYS).ensure_group()
    ingest = Ingest(client, KEYS, config.topic_slugs, max_backlog=3)
    for i in range(3):
        await ingest.publish(Update(f"u{i}", "ukraine", headline=f"Update {i}"))
    with pytest.raises(Overloaded) as refused:
        await ingest.publish(Update("u3", "ukraine", headline="One too many"))
    assert (refused.value.backlog, refused.value.limit) == (3, 3)
    assert refused.value.retry_after > 0
    assert "retry after" in str(refused.value)
    with pytest.raises(Overloaded):
        await ingest.edit("u0", Changes(headline="Corrected"))
    with pytest.raises(Overloaded):
        await ingest.delete("u1")
    assert await client.xlen(KEYS.updates) == 3
    assert await ingest.latest("u3") is None
    assert (await ingest.latest("u0")).revision == 1  # type: ignore[union-attr]

    await _drain(Dispatcher(client, config, "w"))  # the fan-out catches up
    accepted = await ingest.publish(Update("u3", "ukraine", headline="Now it fits"))
    assert accepted.update.revision == 1


async def test_bad_input_is_answered_as_bad_input_even_when_overloaded(
    client: aioredis.Redis, config: Config
) -> None:
    ingest = Ingest(client, KEYS, config.topic_slugs, max_backlog=1)
    await ingest.publish(Update("u0", "ukraine", headline="Fills the backlog"))
    with pytest.raises(InvalidUpdate, match="already exists"):
        await ingest.publish(Update("u0", "ukraine", headline="Other content"))
    duplicate = await ingest.publish(Update("u0", "ukraine", headline="Fills the backlog"))
    assert duplicate.duplicate  # an identical retry adds nothing, so it is not refused


async def test_a_chat_post_is_told_to_try_again(client: aioredis.Redis, config: Config) -> None:
    await Stream(client, KEYS).ensure_group()
    ingest = Ingest(client, KEYS, config.topic_slugs, max_backlog=1)
    commands = Commands(config, ingest, Subscriptions(client, KEYS))

    class Editor:
        async def is_editor(self) -> bool:
            return True

        async def may_manage(self, dest: Destination) -> str | None:
            return None

    chat = Destination("telegram", "42")
    first = await commands.handle(
        Invocation("post", "ukraine Talks resume", chat, ChatKind.PRIVATE, "42"), Editor()
    )
    assert first.ok, first.text
    refused = await commands.handle(
        Invocation("post", "ukraine Talks end", chat, ChatKind.PRIVATE, "42"), Editor()
    )
    assert not refused.ok
    assert refused.text == (
        "Nothing was changed: the relay is busy (1 update is waiting to go out). "
        "Please try again in 1 s."
    )
    assert await client.xlen(KEYS.updates) == 1


async def test_a_short_stream_maxlen_loses_nothing(
    client: aioredis.Redis, config: Config, make_config: Callable[..., Config]
) -> None:
    """Issue 11, item 4: `stream_maxlen` trimmed entries no dispatcher had read (43% lost).

    Now it only says when to trim what every group has acknowledged: 600 updates through a
    stream kept to 50 entries all reach their destination.
    """
    config = make_config(redis={"url": config.redis.url, "stream_maxlen": 50})
    ingest = Ingest.from_config(client, config)
    await Subscriptions(client, KEYS).subscribe(A, ["ukraine"])
    dispatcher = Dispatcher(client, config, "w")
    await dispatcher.stream.ensure_group()
    ids = [f"u{i}" for i in range(600)]
    for update_id in ids:  # all in before the fan-out starts: the flood case
        await ingest.publish(Update(update_id, "ukraine", headline=update_id))
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        async with asyncio.timeout(60):
            while await dispatcher.stream.backlog():  # noqa: ASYNC110 - the state is in Redis
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    queued = {u for u, _ in await dispatcher.queues.positions(A)}
    assert queued == set(ids)
    await dispatcher.stream.trim(config.redis.stream_maxlen)
    assert await client.xlen(KEYS.updates) < 600  # and acknowledged entries did go


async def test_a_running_relay_answers_an_overload_with_retry_after(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    """`relay run` with its API, as a CMS meets it: 201 until the bound, then 429/503.

    A second consumer group that never reads (an archiver that fell behind) holds the
    backlog: the stream keeps what any group has not acknowledged, so ingest must refuse.
    """
    await client.xgroup_create(KEYS.updates, "archive", id="0", mkstream=True)
    port = free_port()
    cfg = write_config(
        tmp_path / "r.yaml",
        redis={"url": config.redis.url, "max_backlog": 2},
        api={"enabled": True, "host": "127.0.0.1", "port": port},
    )
    out = (tmp_path / "run.out").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay.cli", "--config", str(cfg), "run",
        stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with asyncio.timeout(60):
                while True:
                    try:
                        async with http.get(f"{base}/healthz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.2)
            statuses = []
            for i in range(3):
                update = {"topic": "ukraine", "headline": f"Update {i}"}
                async with http.post(f"{base}/v1/updates", json=update) as r:
                    statuses.append(r.status)
                    last = (r.headers.get("Retry-After"), r.content_type, await r.text())
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        out.close()
    assert statuses[:2] == [201, 201]
    assert statuses[2] in (429, 503), last
    retry_after, content_type, _ = last
    assert retry_after is not None and int(retry_after) >= 1
    assert content_type == "application/json"
    assert await client.xlen(KEYS.updates) == 2
