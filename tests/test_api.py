"""The HTTP API: a CMS publishes, edits and deletes; bad input gets a 4xx naming the field."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from relay import config as config_mod
from relay.adapters.memory import MemoryAdapter
from relay.api import RELAY_KEY, check_exposure, make_app, serve
from relay.app import Relay
from relay.backend import EmbeddedValkey
from relay.config import Config
from relay.errors import ConfigError
from relay.keys import Keys
from relay.model import Destination

from .conftest import BASE_CONFIG
from .helpers import Pipeline, free_port

KEYS = Keys()


async def _client(config: Config) -> AsyncIterator[TestClient[Any, Any]]:
    async with (
        Relay(config, adapters=[]) as relay,
        TestClient(TestServer(make_app(relay))) as http,
    ):
        yield http


@pytest.fixture
async def http(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> AsyncIterator[TestClient[Any, Any]]:
    async for c in _client(make_config()):
        yield c


async def test_publish_edit_delete_and_read_back(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    body = {"id": "cms-1", "topic": "ukraine", "headline": "Talks resume", "body": "**Now**",
            "image": {"url": "https://example.org/p.jpg", "credit": "Photo: Agency"}}  # fmt: skip
    created = await http.post("/v1/updates", json=body)
    assert created.status == 201
    assert (await created.json())["revision"] == 1
    retry = await http.post("/v1/updates", json=body)  # the CMS retried after a timeout
    assert retry.status == 200 and (await retry.json())["duplicate"] is True
    edited = await http.patch("/v1/updates/cms-1", json={"headline": "Talks resume in Geneva"})
    assert edited.status == 200 and (await edited.json())["revision"] == 2
    got = await http.get("/v1/updates/cms-1")
    data = await got.json()
    assert data["update"]["headline"] == "Talks resume in Geneva"
    assert data["update"]["image"]["credit"] == "Photo: Agency"
    deleted = await http.delete("/v1/updates/cms-1")
    assert (await deleted.json())["action"] == "delete"
    assert await client.xlen(KEYS.updates) == 3


async def test_generated_id_when_none_given(http: TestClient[Any, Any]) -> None:
    created = await http.post("/v1/updates", json={"topic": "climate", "headline": "Pledge"})
    assert created.status == 201
    assert len((await created.json())["id"]) > 10


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "field"),
    [
        ("post", "/v1/updates", {"topic": "sport", "headline": "h"}, 400, "topic"),
        ("post", "/v1/updates", {"topic": "ukraine"}, 400, "headline"),
        ("post", "/v1/updates", {"topic": "ukraine", "headline": "h", "link": "javascript:x"},
         400, "link"),
        ("post", "/v1/updates", {"topic": "ukraine", "headline": "h", "colour": 3}, 400, "colour"),
        ("post", "/v1/updates", {"topic": "ukraine", "headline": "h", "action": "edit"},
         400, "action"),
        ("post", "/v1/updates", [1, 2], 400, "body"),
        ("patch", "/v1/updates/none", {"headline": "x"}, 404, "id"),
        ("patch", "/v1/updates/none", {}, 400, "body"),
        ("delete", "/v1/updates/none", None, 404, "id"),
        ("get", "/v1/updates/none", None, 404, "id"),
    ],
)  # fmt: skip
async def test_bad_requests_name_the_field_and_change_nothing(
    http: TestClient[Any, Any],
    client: aioredis.Redis,
    method: str,
    path: str,
    payload: Any,
    status: int,
    field: str,
) -> None:
    response = await getattr(http, method)(path, json=payload)
    assert response.status == status
    body = await response.json()
    assert body["field"] == field and body["error"]
    assert await client.xlen(KEYS.updates) == 0


async def _post(http: TestClient[Any, Any], update_id: str, **fields: Any) -> None:
    body = {"id": update_id, "topic": "ukraine", "headline": f"Update {update_id}", **fields}
    response = await http.post("/v1/updates", json=body)
    assert response.status == 201, await response.text()


async def _revision(http: TestClient[Any, Any], update_id: str) -> dict[str, Any]:
    got = await http.get(f"/v1/updates/{update_id}")
    assert got.status == 200, await got.text()
    update: dict[str, Any] = (await got.json())["update"]
    return update


async def test_a_bad_patch_changes_nothing_and_delivery_goes_on(
    http: TestClient[Any, Any], client: aioredis.Redis, config: Config
) -> None:
    # Issue 11 item 1: this PATCH once answered 200 and stored a B that no longer decoded,
    # which held C back from every destination for good.
    pipeline = Pipeline(client, config)
    desk = Destination("memory", "desk")
    await pipeline.subs.subscribe(desk, ["ukraine"])
    await _post(http, "A")
    await _post(http, "B")
    before = await _revision(http, "B")
    bad = await http.patch("/v1/updates/B", json={"breaking": "yes"})
    assert bad.status == 400
    assert await bad.json() == {"error": "must be true or false, got a string", "field": "breaking"}
    assert await _revision(http, "B") == before
    await _post(http, "C")
    await pipeline.drain()
    assert [(c.op, c.update_id) for c in pipeline.memory.calls] == [
        ("send", "A"), ("send", "B"), ("send", "C")
    ]  # fmt: skip
    deleted = await (await http.delete("/v1/updates/B")).json()
    assert (deleted["revision"], deleted["action"]) == (2, "delete")  # B is sound to the end


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"breaking": "yes"}, "breaking"),
        ({"breaking": 1}, "breaking"),
        ({"breaking": None}, "breaking"),
        ({"author": ["a"]}, "author"),
        ({"author": None}, "author"),
        ({"author": 1}, "author"),
        ({"headline": None}, "headline"),
        ({"headline": 1}, "headline"),
        ({"headline": ""}, "headline"),
        ({"body": None}, "body"),
        ({"body": 1}, "body"),
        ({"body": "\ud800"}, "body"),
        ({"link": "javascript:alert(1)"}, "link"),
        ({"image": "https://example.org/p.jpg"}, "image"),
        ({"image": ["https://example.org/p.jpg"]}, "image"),
        ({"image": {"url": "https://example.org/p.jpg", "size": 3}}, "image.size"),
        ({"topic": "climate"}, "topic"),
        ({"colour": "red"}, "colour"),
        ({"headline": "Fine", "colour": "red"}, "colour"),
    ],
)  # fmt: skip
async def test_a_patch_with_a_bad_field_is_400_naming_it(
    http: TestClient[Any, Any], client: aioredis.Redis, payload: dict[str, Any], field: str
) -> None:
    await _post(http, "B", link="https://example.org/b")
    before = await _revision(http, "B")
    response = await http.patch("/v1/updates/B", json=payload)
    assert response.status == 400
    body = await response.json()
    assert body["field"] == field and body["error"]
    assert await _revision(http, "B") == before
    assert await client.xlen(KEYS.updates) == 1


async def test_a_lone_surrogate_is_400_not_500(http: TestClient[Any, Any]) -> None:
    response = await http.post(
        "/v1/updates", json={"topic": "ukraine", "headline": "Talks \ud800 resume"}
    )
    assert response.status == 400 and (await response.json())["field"] == "headline"


async def test_patch_null_removes_a_link_or_photo_and_absent_keeps_it(
    http: TestClient[Any, Any],
) -> None:
    await _post(http, "B", link="https://example.org/b", image={"url": "https://x.org/p.jpg"})
    kept = await http.patch("/v1/updates/B", json={"body": "More"})
    assert kept.status == 200
    assert (await _revision(http, "B"))["link"] == "https://example.org/b"
    removed = await http.patch("/v1/updates/B", json={"link": None, "image": None})
    assert removed.status == 200 and (await removed.json())["revision"] == 3
    after = await _revision(http, "B")
    assert (after["link"], after["image"], after["body"]) == (None, None, "More")


async def test_conflicting_id_is_409(http: TestClient[Any, Any]) -> None:
    await http.post("/v1/updates", json={"id": "x1", "topic": "ukraine", "headline": "A"})
    response = await http.post(
        "/v1/updates", json={"id": "x1", "topic": "ukraine", "headline": "B"}
    )
    assert response.status == 409 and (await response.json())["field"] == "id"


async def test_invalid_json_and_oversized_bodies(http: TestClient[Any, Any]) -> None:
    bad = await http.post(
        "/v1/updates", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert bad.status == 400 and (await bad.json())["field"] == "body"
    huge = await http.post("/v1/updates", data=b"x" * 300_000)
    assert huge.status == 413


async def test_bearer_token_required_when_configured(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> None:
    cfg = config_mod.parse(
        {**BASE_CONFIG, "redis": {"url": make_config().redis.url}}, "t.yaml",
        {"RELAY_API_TOKEN": "s3cret"},
    )  # fmt: skip
    async for http in _client(cfg):
        body = {"topic": "ukraine", "headline": "h"}
        assert (await http.post("/v1/updates", json=body)).status == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await http.post("/v1/updates", json=body, headers=wrong)).status == 401
        right = {"Authorization": "Bearer s3cret"}
        assert (await http.post("/v1/updates", json=body, headers=right)).status == 201
        assert (await http.get("/healthz")).status == 200  # health needs no token


async def test_healthz(http: TestClient[Any, Any]) -> None:
    response = await http.get("/healthz")
    assert response.status == 200 and (await response.json())["redis"] == "ok"


def _sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus exposition text (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_accepted_updates_deliveries_and_queue_state(
    client: aioredis.Redis, config: Config
) -> None:
    memory = MemoryAdapter()
    async with Relay(config, adapters=[memory]) as relay:
        http = TestClient(TestServer(make_app(relay)))
        await http.start_server()
        try:
            before = await (await http.get("/metrics")).text()
            await relay.subscriptions.subscribe(Destination("memory", "m1"), ["ukraine"])
            await relay.subscriptions.subscribe(Destination("memory", "m2"), ["ukraine"])
            await http.post("/v1/updates", json={"id": "m-1", "topic": "ukraine", "headline": "h"})
            queued = await (await http.get("/metrics")).text()
            assert _sample(queued, "relay_stream_entries") == 1
            stop = asyncio.Event()
            task = asyncio.create_task(relay.run(stop))
            await memory.wait_for(2, "send")
            async with asyncio.timeout(10):
                while await relay.client.zcard(relay.keys.ready()):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            stop.set()
            await task
            after = await (await http.get("/metrics")).text()
        finally:
            await http.close()
    sent = "relay_deliveries_total"
    assert (
        _sample(after, sent, outcome="send", platform="memory")
        - _sample(before, sent, outcome="send", platform="memory")
        == 2
    )
    accepted = "relay_updates_accepted_total"
    assert (
        _sample(after, accepted, action="publish") - _sample(before, accepted, action="publish")
        == 1
    )
    assert _sample(after, "relay_destinations_waiting") == 0
    assert "relay_platform_call_seconds_bucket" in after


def _exchange(port: int, data: bytes) -> bytes:
    """Send `data` on a raw connection and stall; everything the server sends until it closes.

    The socket timeout only keeps a broken server from hanging the test.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


async def test_a_stalled_body_gets_408_a_stalled_header_a_close_and_others_are_served(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> None:
    port = free_port()
    cfg = make_config(api={"enabled": True, "port": port})
    stop = asyncio.Event()
    async with Relay(cfg, adapters=[]) as relay:
        server = asyncio.create_task(serve(relay, stop, read_timeout=0.5))
        try:
            async with aiohttp.ClientSession() as session:
                async with asyncio.timeout(30):
                    while True:  # until it listens
                        with contextlib.suppress(aiohttp.ClientError):
                            async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                                break
                        await asyncio.sleep(0.05)
                head = b"POST /v1/updates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                body = asyncio.to_thread(
                    _exchange, port, head + b'Content-Length: 100\r\n\r\n{"topic": "ukr'
                )
                header = asyncio.to_thread(_exchange, port, head + b"Content-Len")
                stalled_body, stalled_header = await asyncio.gather(body, header)
                async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                    assert r.status == 200  # the relay kept serving
        finally:
            stop.set()
            await server
    status, _, rest = stalled_body.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 408")
    answer = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert answer["field"] == "body" and answer["error"]
    assert stalled_header == b""  # closed without an answer: it never said what it wanted
    assert await client.xlen(KEYS.updates) == 0


async def test_a_request_that_is_not_http_is_refused_with_one_warning_line(
    client: aioredis.Redis, make_config: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    stop = asyncio.Event()
    async with Relay(make_config(api={"enabled": True, "port": port}), adapters=[]) as relay:
        server = asyncio.create_task(serve(relay, stop, read_timeout=5))
        try:
            async with asyncio.timeout(30):
                while True:  # until it listens
                    with contextlib.suppress(OSError):
                        socket.create_connection(("127.0.0.1", port), timeout=5).close()
                        break
                    await asyncio.sleep(0.05)
            bad = b"POST /v1/updates HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
            answer = await asyncio.to_thread(_exchange, port, bad)
        finally:
            stop.set()
            await server
    assert answer.startswith(b"HTTP/1.0 400")
    [record] = [r for r in caplog.records if r.name == "relay.api.http"]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert record.getMessage() == "api: malformed request: Invalid character in Content-Length:"


async def test_a_redis_outage_is_a_json_503_with_retry_after_then_it_serves_again(
    make_config: Callable[..., Config],
) -> None:
    directory = Path(tempfile.mkdtemp(prefix="lr-", dir="/tmp"))
    valkey = EmbeddedValkey(directory)
    valkey.start()
    try:
        cfg = make_config(redis={"url": valkey.url})
        async with (
            Relay(cfg, adapters=[]) as relay,
            TestClient(TestServer(make_app(relay))) as http,
        ):
            body = {"id": "o-1", "topic": "ukraine", "headline": "During the outage"}
            await asyncio.to_thread(valkey.stop)
            for method, path in (("POST", "/v1/updates"), ("GET", "/v1/updates/o-1")):
                down = await http.request(method, path, json=body)
                assert down.status == 503, await down.text()
                assert down.headers["Retry-After"] == "5"
                assert (await down.json())["error"] == "storage unavailable, retry later"
            health = await http.get("/healthz")
            assert health.status == 503 and (await health.json())["redis"] != "ok"
            valkey = EmbeddedValkey(directory)
            await asyncio.to_thread(valkey.start)
            assert (await http.post("/v1/updates", json=body)).status == 201
    finally:
        valkey.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def test_an_overloaded_relay_answers_429_with_retry_after_in_whole_seconds(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> None:
    cfg = make_config(redis={"url": make_config().redis.url, "max_backlog": 1})
    async for http in _client(cfg):
        first = await http.post("/v1/updates", json={"topic": "ukraine", "headline": "one"})
        assert first.status == 201  # nothing fans out here: the backlog is now 1
        refused = await http.post("/v1/updates", json={"topic": "ukraine", "headline": "two"})
        assert refused.status == 429
        retry_after = refused.headers["Retry-After"]
        assert retry_after.isdigit() and int(retry_after) >= 1
        assert "overloaded" in (await refused.json())["error"]
    assert await client.xlen(KEYS.updates) == 1


async def test_an_unexpected_error_is_a_json_500_and_its_traceback_is_only_logged(
    http: TestClient[Any, Any], client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await _post(http, "B")
    await client.delete(KEYS.update("B"))
    await client.set(KEYS.update("B"), "not a hash")  # WRONGTYPE on every read of B
    response = await http.get("/v1/updates/B")
    assert response.status == 500
    assert await response.json() == {"error": "internal error"}
    [record] = [r for r in caplog.records if r.name == "relay.api"]
    assert record.exc_info is not None and "GET /v1/updates/B" in record.getMessage()


async def test_healthz_is_503_naming_a_part_that_died(http: TestClient[Any, Any]) -> None:
    relay = http.app[RELAY_KEY] if http.app is not None else None
    assert isinstance(relay, Relay)
    relay.failed["discord"] = "gateway closed: 4004 Authentication failed."
    response = await http.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "failed"
    assert body["failed"] == {"discord": "gateway closed: 4004 Authentication failed."}


@pytest.mark.parametrize(
    ("host", "env", "allow", "refused"),
    [
        ("0.0.0.0", {}, False, True),
        ("::", {}, False, True),
        ("", {}, False, True),
        ("relay.example.org", {}, False, True),
        ("0.0.0.0", {"RELAY_API_TOKEN": "s3cret-token"}, False, False),
        ("0.0.0.0", {}, True, False),
        ("127.0.0.1", {}, False, False),
        ("127.0.0.2", {}, False, False),
        ("::1", {}, False, False),
        ("localhost", {}, False, False),
    ],
)
def test_no_api_beyond_loopback_without_a_token_unless_the_config_says_so(
    make_config: Callable[..., Config], host: str, env: dict[str, str], allow: bool, refused: bool
) -> None:
    data = {**BASE_CONFIG, "redis": {"url": make_config().redis.url},
            "api": {"host": host, "allow_unauthenticated": allow}}  # fmt: skip
    cfg = config_mod.parse(data, "t.yaml", env)
    if refused:
        with pytest.raises(ConfigError) as info:
            check_exposure(cfg)
        assert info.value.key == "api.host" and "RELAY_API_TOKEN" in info.value.expected
    else:
        check_exposure(cfg)
