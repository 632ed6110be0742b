"""Scheduled updates (`publish_at`, `relay post --at`): they wait, can be read, changed and
cancelled, and go out once at their time, whichever worker sees them due and even if a worker
dies in between.

Through the HTTP API of `relay run` over a socket and through the CLI, with the console as the
destination; the schedule's rules on its own below, on the test Valkey.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from relay.changes import Changes
from relay.config import Config
from relay.errors import InvalidUpdate, UnknownUpdate
from relay.keys import Keys
from relay.model import Update
from relay.schedule import STUCK, Schedule, parse_time
from tests.conftest import BASE_CONFIG
from tests.helpers import Pipeline, free_port
from tests.test_cli import relay_cmd, write_config

KEYS = Keys()
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("2026-12-01T13:00:00", "time zone"),
        ("2026-12-01T11:59:00+00:00", "in the future"),
        ("2027-01-15T12:00:00Z", "within 30 days"),
        ("tomorrow", "ISO 8601"),
        (1796216103, "string"),
    ],
)
def test_a_time_that_cannot_be_kept_is_refused_naming_publish_at(raw: Any, words: str) -> None:
    with pytest.raises(InvalidUpdate) as info:
        parse_time(raw, NOW)
    assert info.value.field == "publish_at" and words in info.value.message


def test_a_time_is_kept_in_utc() -> None:
    assert parse_time("2026-12-01T15:00+02:00", NOW) == datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


async def test_an_update_waits_can_change_and_goes_out_once_at_its_time(
    client: aioredis.Redis, config: Config
) -> None:
    pipeline = Pipeline(client, config)
    schedule = Schedule(client, KEYS, pipeline.ingest)
    at = later(60)
    held = await schedule.add(Update("s1", "ukraine", headline="Ceasefire at midnight"), at)
    assert held.update.published_at == at
    with pytest.raises(InvalidUpdate, match="already exists"):
        await schedule.add(Update("s1", "ukraine", headline="Twice"), at)
    assert await schedule.fire() == 0  # not due: nothing goes
    assert await pipeline.ingest.latest("s1") is None
    changed = await schedule.change("s1", Changes(headline="Ceasefire at 1 am"), at)
    assert changed.update.headline == "Ceasefire at 1 am"
    assert [s.update.id for s in await schedule.pending()] == ["s1"]
    assert await schedule.fire(now=at.timestamp() + 1) == 1
    published = await pipeline.ingest.latest("s1")
    assert published is not None and published.headline == "Ceasefire at 1 am"
    assert published.published_at == at and published.revision == 1
    assert await client.xlen(KEYS.updates) == 1
    assert await schedule.fire(now=at.timestamp() + 120) == 0  # gone: nothing goes twice
    assert not await schedule.cancel("s1")  # it went out: delete it instead
    with pytest.raises(UnknownUpdate):
        await schedule.change("s1", Changes(headline="Too late"), None)
    with pytest.raises(InvalidUpdate, match="already exists"):  # its id is taken now
        await schedule.add(Update("s1", "ukraine", headline="Again"), later(60))


async def test_a_cancelled_update_never_goes_out(client: aioredis.Redis, config: Config) -> None:
    pipeline = Pipeline(client, config)
    schedule = Schedule(client, KEYS, pipeline.ingest)
    at = later(60)
    await schedule.add(Update("s2", "climate", headline="Pledge announced"), at)
    assert await schedule.cancel("s2")
    assert await schedule.fire(now=at.timestamp() + 1) == 0
    assert await pipeline.ingest.latest("s2") is None and await client.xlen(KEYS.updates) == 0
    assert await schedule.get("s2") is None and not await schedule.cancel("s2")


async def test_an_update_a_dead_worker_claimed_goes_out_once_all_the_same(
    client: aioredis.Redis, config: Config
) -> None:
    pipeline = Pipeline(client, config)
    schedule = Schedule(client, KEYS, pipeline.ingest)
    at = later(60)
    await schedule.add(Update("s3", "ukraine", headline="Sirens"), at)
    # A worker claims it and dies before publishing: it stays claimed, in `firing`.
    await schedule._claim(keys=[KEYS.scheduled, KEYS.scheduled_updates, KEYS.firing],
                          args=[int(at.timestamp() * 1000) + 1, 50, int(STUCK * 1000)])  # fmt: skip
    assert await schedule.get("s3") is None and await client.hlen(KEYS.firing) == 1
    assert await schedule.fire(now=at.timestamp() + 2) == 0  # claimed just now: left alone
    assert await schedule.fire(now=at.timestamp() + STUCK + 2) == 1  # stuck: published
    assert await schedule.fire(now=at.timestamp() + 2 * STUCK + 4) == 0
    assert await client.xlen(KEYS.updates) == 1 and await client.hlen(KEYS.firing) == 0


@contextlib.asynccontextmanager
async def relay_run(cfg: Path, log: Path) -> AsyncIterator[None]:
    """`relay run` with `cfg` for the body (its output to `log`), stopped with SIGTERM."""
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 - started here, stopped below
            [sys.executable, "-m", "relay.cli", "--config", str(cfg), "run"],
            stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ),
        )  # fmt: skip
        try:
            yield
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 60)


def _call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_through_the_api_and_the_cli_of_relay_run(tmp_path: Path, config: Config) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    channels = [{"destination": "console:desk", "topics": ["ukraine"]}]
    cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url},
                       api={"enabled": True, "port": port}, channels=channels)  # fmt: skip
    async with relay_run(cfg, tmp_path / "run.out"):
        async with asyncio.timeout(60):
            while True:
                try:
                    if (await asyncio.to_thread(_call, base, "GET", "/v1/scheduled"))[0] == 200:
                        break
                except OSError:
                    pass
                await asyncio.sleep(0.1)
        soon = later(8).isoformat()  # time for the steps below, on a busy machine too
        body = {
            "id": "at-3",
            "topic": "ukraine",
            "headline": "Briefing at noon",
            "publish_at": soon,
        }
        status, answer = await asyncio.to_thread(_call, base, "POST", "/v1/updates", body)
        assert (status, answer["scheduled"]) == (202, True), answer
        status, answer = await asyncio.to_thread(
            _call, base, "PATCH", "/v1/updates/at-3", {"headline": "Briefing moved to 1 pm"}
        )
        assert status == 200 and answer["scheduled"] is True, answer
        moved = datetime.fromisoformat(soon) - datetime.fromisoformat(answer["publish_at"])
        assert timedelta(0) <= moved < timedelta(milliseconds=1)  # kept to the millisecond
        status, read = await asyncio.to_thread(_call, base, "GET", "/v1/updates/at-3")
        assert status == 200 and read["progress"] is None and read["publish_at"]
        assert read["update"]["headline"] == "Briefing moved to 1 pm"
        # Another one, scheduled from the shell and cancelled from it.
        cli = ("--config", str(cfg))
        at = later(3600).isoformat()
        post = ("post", "--topic", "ukraine", "--headline", "Never sent", "--id", "at-x")
        posted = await asyncio.to_thread(relay_cmd, *cli, *post, "--at", at)
        assert posted.returncode == 0 and posted.stdout.startswith("at-x scheduled for "), posted
        listed = await asyncio.to_thread(relay_cmd, *cli, "scheduled")
        shown = (await asyncio.to_thread(relay_cmd, *cli, "status")).stdout
        assert "\nscheduled: 2 waiting for their time\n  at-3  at " in shown, shown
        assert "  ukraine · Never sent\n" in shown, shown
        assert [line.split("  ")[0] for line in listed.stdout.splitlines()] == ["at-3", "at-x"]
        status, waiting = await asyncio.to_thread(_call, base, "GET", "/v1/scheduled")
        assert [w["update"]["id"] for w in waiting] == ["at-3", "at-x"]
        cancelled = await asyncio.to_thread(relay_cmd, *cli, "delete", "at-x")
        assert "at-x cancelled" in cancelled.stdout, cancelled
        async with asyncio.timeout(60):  # at-3 goes out at its time, as edited
            while True:
                status, read = await asyncio.to_thread(_call, base, "GET", "/v1/updates/at-3")
                if read.get("progress") and read["progress"]["done"]:
                    break
                await asyncio.sleep(0.2)
        status, gone = await asyncio.to_thread(_call, base, "GET", "/v1/updates/at-x")
        assert status == 404, gone
    printed = (tmp_path / "run.out").read_text()
    assert printed.count("Briefing moved to 1 pm") == 1, printed
    assert "Briefing at noon" not in printed and "Never sent" not in printed


async def test_an_update_whose_topic_left_the_config_is_a_dead_letter_to_retry(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    """Scheduled for `climate`, then the config lost that topic: `relay run` keeps it as a dead
    letter saying why (it was accepted: never only a log line), and once the topic is back
    `relay dead-letters retry` publishes it, through ingest as any update."""
    at = later(1)
    await Schedule(client, KEYS, Pipeline(client, config).ingest).add(
        Update("s5", "climate", headline="Summit statement"), at
    )
    without = [t for t in BASE_CONFIG["topics"] if t["slug"] != "climate"]
    cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url}, topics=without)
    async with relay_run(cfg, tmp_path / "run.out"):
        async with asyncio.timeout(60):
            while not await client.xlen(KEYS.dead_letters):  # noqa: ASYNC110 - state in Redis
                await asyncio.sleep(0.1)
    assert await client.hlen(KEYS.firing) == 0 and await client.zcard(KEYS.scheduled) == 0
    assert await client.xlen(KEYS.updates) == 0
    listed = await asyncio.to_thread(relay_cmd, "--config", str(cfg), "dead-letters", "list")
    assert "scheduled update not published: topic: unknown topic 'climate'" in listed.stdout
    assert "s5" in listed.stdout, listed.stdout
    kept = await asyncio.to_thread(relay_cmd, "--config", str(cfg), "dead-letters", "retry")
    assert "kept: topic: unknown topic 'climate'" in kept.stdout, kept
    assert await client.xlen(KEYS.dead_letters) == 1
    back = write_config(tmp_path / "back.yaml", redis={"url": config.redis.url})
    retried = await asyncio.to_thread(relay_cmd, "--config", str(back), "dead-letters", "retry")
    assert retried.returncode == 0 and ": published" in retried.stdout, retried
    assert await client.xlen(KEYS.dead_letters) == 0 and await client.xlen(KEYS.updates) == 1
    published = await Pipeline(client, config).ingest.latest("s5")
    assert published is not None and (published.revision, published.topic) == (1, "climate")
    assert published.published_at > at  # when it went, not the time it was scheduled for
