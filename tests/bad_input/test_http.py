"""Bad input over HTTP: each request gets a JSON error naming the field, and changes nothing.

Every case runs against the real API on the test Valkey, with one update `B` already
accepted; after the bad request the stored state is byte for byte what it was, and the relay
still accepts a good update.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from relay import config as config_mod
from relay.api import make_app
from relay.app import Relay
from relay.config import Config
from relay.keys import Keys

from ..conftest import BASE_CONFIG
from .snapshot import snapshot

KEYS = Keys()
TOKEN = "cms-token-for-bad-input"
JSON = {"Content-Type": "application/json"}
GOOD = {"topic": "ukraine", "headline": "Still serving"}


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _post(**fields: Any) -> bytes:
    return json.dumps({"topic": "ukraine", "headline": "h", **fields}).encode()


BIG_INT = b'{"topic": "ukraine", "headline": "h", "revision": ' + b"9" * 5000 + b"}"
GZIP_BOMB = gzip.compress(b"{" + b" " * 20_000_000 + b"}")

# (name, method, path, headers, body, status, field): field None means no field is to blame.
CASES: list[tuple[str, str, str, dict[str, str], bytes, int, str | None]] = [
    ("lone surrogate in headline", "POST", "/v1/updates", JSON,
     b'{"topic": "ukraine", "headline": "a \\ud800 b"}', 400, "headline"),
    ("lone surrogate in topic", "POST", "/v1/updates", JSON,
     b'{"topic": "\\udfff", "headline": "h"}', 400, "topic"),
    ("lone surrogate in author", "POST", "/v1/updates", JSON, _post()[:-1] +
     b', "author": "\\ud800"}', 400, "author"),
    ("lone surrogate in id", "POST", "/v1/updates", JSON, _post()[:-1] + b', "id": "\\ud800"}',
     400, "id"),
    ("lone surrogate in a photo caption", "POST", "/v1/updates", JSON, _post()[:-1] +
     b', "image": {"url": "https://example.org/p.jpg", "caption": "\\ud800"}}', 400,
     "image.caption"),
    ("lone surrogate as a key", "POST", "/v1/updates", JSON, _post()[:-1] + b', "\\ud800": 1}',
     400, "body"),
    ("arrays nested 100,000 deep", "POST", "/v1/updates", JSON, _deep(100_000), 400, "body"),
    ("objects nested 40,000 deep (the most 256 KiB hold)", "POST", "/v1/updates", JSON,
     b'{"a":' * 40_000 + b"1" + b"}" * 40_000, 400, "body"),
    ("an integer of 5,000 digits", "POST", "/v1/updates", JSON, BIG_INT, 400, "body"),
    ("charset=bogus", "POST", "/v1/updates",
     {"Content-Type": "application/json; charset=bogus"}, _post(), 415, None),
    ("charset=latin-1", "POST", "/v1/updates",
     {"Content-Type": "application/json; charset=latin-1"}, _post(), 415, None),
    ("bytes that are not UTF-8", "POST", "/v1/updates", JSON,
     b'{"topic": "ukraine", "headline": "\xff\xfe"}', 400, "body"),
    ("UTF-16 JSON", "POST", "/v1/updates", JSON, _post().decode().encode("utf-16"), 400,
     "body"),
    ("a UTF-8 byte order mark", "POST", "/v1/updates", JSON, b"\xef\xbb\xbf" + _post(), 400,
     "body"),
    ("not JSON", "POST", "/v1/updates", JSON, b"topic=ukraine&headline=h", 400, "body"),
    ("an empty body", "POST", "/v1/updates", JSON, b"", 400, "body"),
    ("truncated JSON", "POST", "/v1/updates", JSON, b'{"topic": "ukr', 400, "body"),
    ("trailing garbage", "POST", "/v1/updates", JSON, _post() + b" x", 400, "body"),
    ("a JSON array", "POST", "/v1/updates", JSON, b'[{"topic": "ukraine"}]', 400, "body"),
    ("a JSON string", "POST", "/v1/updates", JSON, b'"ukraine"', 400, "body"),
    ("JSON null", "POST", "/v1/updates", JSON, b"null", 400, "body"),
    ("a JSON number", "POST", "/v1/updates", JSON, b"42", 400, "body"),
    ("NaN", "POST", "/v1/updates", JSON, b'{"topic": "ukraine", "headline": "h", "revision": NaN}',
     400, "body"),
    ("-Infinity", "POST", "/v1/updates", JSON, b'{"revision": -Infinity}', 400, "body"),
    ("a body over 256 KiB", "POST", "/v1/updates", JSON, b" " * 300_000, 413, "body"),
    ("a gzip bomb", "POST", "/v1/updates", {**JSON, "Content-Encoding": "gzip"}, GZIP_BOMB, 413,
     "body"),
    ("an unknown field", "POST", "/v1/updates", JSON, _post(colour="red"), 400, "colour"),
    ("an edit through POST", "POST", "/v1/updates", JSON, _post(action="edit"), 400, "action"),
    ("a headline that is a number", "POST", "/v1/updates", JSON, _post(headline=7), 400,
     "headline"),
    ("breaking as a string", "POST", "/v1/updates", JSON, _post(breaking="yes"), 400, "breaking"),
    ("an unknown topic", "POST", "/v1/updates", JSON, _post(topic="sport"), 400, "topic"),
    ("a photo as a string", "POST", "/v1/updates", JSON, _post(image="https://x.org/p.jpg"), 400,
     "image"),
    ("a javascript: link", "POST", "/v1/updates", JSON, _post(link="javascript:alert(1)"), 400,
     "link"),
    ("an id taken by other content", "POST", "/v1/updates", JSON, _post(id="B"), 409, "id"),
    ("PATCH: a lone surrogate", "PATCH", "/v1/updates/B", JSON, b'{"body": "\\ud800"}', 400,
     "body"),
    ("PATCH: nested 100,000 deep", "PATCH", "/v1/updates/B", JSON,
     b'{"headline": ' + _deep(100_000) + b"}", 400, "body"),
    ("PATCH: an integer of 5,000 digits", "PATCH", "/v1/updates/B", JSON,
     b'{"headline": ' + b"1" * 5000 + b"}", 400, "body"),
    ("PATCH: charset=bogus", "PATCH", "/v1/updates/B",
     {"Content-Type": "application/json; charset=bogus"}, b'{"headline": "x"}', 415, None),
    ("PATCH: a JSON array", "PATCH", "/v1/updates/B", JSON, b'["headline"]', 400, "body"),
    ("PATCH: an empty object", "PATCH", "/v1/updates/B", JSON, b"{}", 400, "body"),
    ("PATCH: an unknown id", "PATCH", "/v1/updates/nope", JSON, b'{"headline": "x"}', 404, "id"),
    ("PATCH: image with an unknown key", "PATCH", "/v1/updates/B", JSON,
     b'{"image": {"url": "https://x.org/p.jpg", "size": 3}}', 400, "image.size"),
    ("DELETE: an unknown id", "DELETE", "/v1/updates/nope", {}, b"", 404, "id"),
    ("GET: an unknown id", "GET", "/v1/updates/nope", {}, b"", 404, "id"),
    ("an unknown route", "GET", "/v2/updates", {}, b"", 404, None),
    ("an unknown route under /v1", "POST", "/v1/nope", JSON, _post(), 404, None),
    ("PUT on an update", "PUT", "/v1/updates/B", JSON, b'{"headline": "x"}', 405, None),
    ("DELETE on the collection", "DELETE", "/v1/updates", {}, b"", 405, None),
    ("POST to /healthz", "POST", "/healthz", JSON, b"{}", 405, None),
]  # fmt: skip


async def _serving(client: aioredis.Redis, config: Config) -> AsyncIterator[TestClient[Any, Any]]:
    async with (
        Relay(config, adapters=[]) as relay,
        TestClient(TestServer(make_app(relay))) as http,
    ):
        yield http


@pytest.fixture
async def http(client: aioredis.Redis, config: Config) -> AsyncIterator[TestClient[Any, Any]]:
    async for served in _serving(client, config):
        created = await served.post("/v1/updates", json={"id": "B", **GOOD})
        assert created.status == 201
        yield served


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "field"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_bad_request_gets_a_json_error_and_changes_nothing(
    http: TestClient[Any, Any],
    client: aioredis.Redis,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    field: str | None,
) -> None:
    before = await snapshot(client)
    response = await http.request(method, path, data=body, headers=headers)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    answer = await response.json()
    assert answer["error"] and answer.get("field") == field, answer
    assert "Traceback" not in answer["error"]
    if status == 405:
        assert response.headers["Allow"]
    assert await snapshot(client) == before
    still = await http.post("/v1/updates", json=GOOD)
    assert still.status == 201, await still.text()


async def test_a_utf8_charset_is_accepted(http: TestClient[Any, Any]) -> None:
    for charset in ("utf-8", "UTF-8", "utf8", "us-ascii"):
        headers = {"Content-Type": f"application/json; charset={charset}"}
        response = await http.post("/v1/updates", data=_post(headline=charset), headers=headers)
        assert response.status == 201, (charset, await response.text())


AUTH_CASES = [
    ("no Authorization header", None),
    ("the token without Bearer", TOKEN),
    ("the token as Basic", f"Basic {TOKEN}"),
    ("a wrong token", "Bearer nope"),
    ("the token with a suffix", f"Bearer {TOKEN}x"),
    ("a prefix of the token", f"Bearer {TOKEN[:-1]}"),
    ("Bearer and nothing", "Bearer "),
    ("the token twice", f"Bearer {TOKEN} {TOKEN}"),
    ("non-ASCII bytes", "Bearer \xff\xfe"),
]


@pytest.fixture
async def guarded(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> AsyncIterator[TestClient[Any, Any]]:
    data = {**BASE_CONFIG, "redis": {"url": make_config().redis.url}}
    cfg = config_mod.parse(data, "t.yaml", {"RELAY_API_TOKEN": TOKEN})
    async for served in _serving(client, cfg):
        yield served


@pytest.mark.parametrize(
    "authorization", [c[1] for c in AUTH_CASES], ids=[c[0] for c in AUTH_CASES]
)
async def test_a_request_without_the_bearer_token_is_401(
    guarded: TestClient[Any, Any], client: aioredis.Redis, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in (("POST", "/v1/updates"), ("GET", "/v1/updates/x")):
        response = await guarded.request(method, path, json=GOOD, headers=headers)
        assert response.status == 401
        assert (await response.json())["error"] == "missing or wrong bearer token"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert await client.xlen(KEYS.updates) == 0
    ok = await guarded.post("/v1/updates", json=GOOD, headers={"Authorization": f"bearer {TOKEN}"})
    assert ok.status == 201
