"""Bad field values, as a CMS sends them (HTTP POST and PATCH) and as an editor types them
(`relay post` in a shell): each is refused naming the field, and nothing changes.

Control characters (the console printed raw ANSI escapes), headlines that show nothing, and ids
made only of dots or dashes. Every HTTP case runs against the real API on the test Valkey with
one update `B` already accepted: after the bad request the stored state is what it was and the
relay still accepts a good update. Every CLI case runs `relay post` as a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from aiohttp.test_utils import TestClient, TestServer

from relay.api import make_app
from relay.app import Relay
from relay.config import Config
from relay.keys import Keys

from ..conftest import BASE_CONFIG
from .snapshot import snapshot

KEYS = Keys()
GOOD = {"topic": "ukraine", "headline": "Still serving"}
PHOTO = "https://example.org/p.jpg"
CONTENT = ("headline", "body", "author", "link", "image.url", "image.caption", "image.credit")


def _control(char: str) -> str:
    return f"must not contain control characters, found U+{ord(char):04X}"


INVISIBLE = "must contain visible text"
EMPTY = "must not be empty"
ONE_LINE = "must be a single line"
ID = "must be 1-64 characters of letters, digits, '_', '-' or '.', with a letter or digit"
GONE = "names a photo the relay no longer keeps (photos are kept 7 days); upload it again"
NOT_KEPT = "https://media.invalid/0123456789abcdef0123456789abcdef"  # no such stored photo

# (what it attacks, the field, its value, the message)
CASES: list[tuple[str, str, str, str]] = [
    ("NUL in a headline", "headline", "Talks\x00resume", _control("\x00")),
    ("an ANSI colour in a headline", "headline", "\x1b[31mTalks resume", _control("\x1b")),
    ("ANSI clear-screen in a body", "body", "Delegations\x1b[2J met", _control("\x1b")),
    ("backspaces over a body", "body", "Agreed\x08\x08\x08\x08\x08\x08Failed", _control("\x08")),
    ("a vertical tab in a body", "body", "one\x0btwo", _control("\x0b")),
    ("NUL in a body", "body", "one\x00two", _control("\x00")),
    ("a bell in an author", "author", "Ann\x07", _control("\x07")),
    ("a C1 CSI in a caption", "image.caption", "x\x9b31m", _control("\x9b")),
    ("DEL in a credit", "image.credit", "AP\x7f", _control("\x7f")),
    ("a form feed in a headline", "headline", "Talks\x0cresume", _control("\x0c")),
    ("an escape in a link", "link", "https://example.org/\x1b[2J", _control("\x1b")),
    ("a newline in an author", "author", "Ann\nSmith", ONE_LINE),
    ("a CR LF in a credit", "image.credit", "AP\r\nReuters", ONE_LINE),
    ("a line separator in a headline", "headline", "Talks\u2028resume", ONE_LINE),
    ("a next-line in a headline", "headline", "Talks\x85resume", ONE_LINE),
    ("a headline of a zero-width space", "headline", "\u200b", INVISIBLE),
    ("a headline of joiners", "headline", "\u200c\u200d", INVISIBLE),
    ("a headline of a word joiner", "headline", "\u2060\u2060", INVISIBLE),
    ("a headline of a byte order mark", "headline", "\ufeff", INVISIBLE),
    ("a headline of a soft hyphen", "headline", "\u00ad", INVISIBLE),
    ("a headline of Hangul fillers", "headline", "\u3164\u3164", INVISIBLE),
    ("a headline of a braille blank", "headline", "\u2800", INVISIBLE),
    ("a headline of bidi controls", "headline", "\u202e\u2066\u2069", INVISIBLE),
    ("a headline of spaces around a zero-width space", "headline", "  \u200b\t ", INVISIBLE),
    ("a headline of spaces and tabs", "headline", " \t  ", EMPTY),
    ("a headline of ideographic spaces", "headline", "\u3000\u3000", EMPTY),
    ("an id of one dot", "id", ".", ID),
    ("an id of two dots", "id", "..", ID),
    ("an id of dashes", "id", "-_-", ID),
    ("an id of underscores and dots", "id", "_._", ID),
    ("an id with a trailing newline", "id", "u-1\n", ID),
    ("a stored photo the relay does not keep", "image.url", NOT_KEPT, GONE),
]  # fmt: skip


def _fields(field: str, value: str) -> dict[str, Any]:
    """The JSON fields that put `value` in `field` (a photo field comes with its URL)."""
    if field.startswith("image."):
        return {"image": {"url": PHOTO, field.removeprefix("image."): value}}
    return {field: value}


@pytest.fixture
async def http(client: aioredis.Redis, config: Config) -> AsyncIterator[TestClient[Any, Any]]:
    async with (
        Relay(config, adapters=[]) as relay,
        TestClient(TestServer(make_app(relay))) as served,
    ):
        created = await served.post("/v1/updates", json={"id": "B", **GOOD})
        assert created.status == 201
        yield served


@pytest.mark.parametrize(
    ("field", "value", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_a_bad_value_over_http_is_a_400_naming_the_field(
    http: TestClient[Any, Any], client: aioredis.Redis, field: str, value: str, message: str
) -> None:
    before = await snapshot(client)
    requests = [("POST", "/v1/updates", {**GOOD, **_fields(field, value)})]
    if field in CONTENT:  # an edit goes through the same parser
        requests.append(("PATCH", "/v1/updates/B", _fields(field, value)))
    for method, path, body in requests:
        response = await http.request(method, path, json=body)
        assert response.status == 400, (method, await response.text())
        answer = await response.json()
        assert (answer["field"], answer["error"]) == (field, message), method
    assert await snapshot(client) == before
    still = await http.post("/v1/updates", json=GOOD)
    assert still.status == 201, await still.text()


def _argv(field: str, value: str) -> tuple[list[str], str | None]:
    """`relay post` arguments (and standard input) that put `value` in `field`."""
    if field == "body":
        return ["--headline=Talks", "--body=-"], value  # standard input may hold any byte
    flag = {"image.url": "image", "image.caption": "caption", "image.credit": "credit"}.get(
        field, field
    )
    argv = [f"--{flag}={value}"]
    if field != "headline":
        argv.append("--headline=Talks")
    if field in ("image.caption", "image.credit"):
        argv.append(f"--image={PHOTO}")
    return argv, None


@pytest.fixture
def config_file(tmp_path: Path, config: Config) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(yaml.safe_dump({**BASE_CONFIG, "redis": {"url": config.redis.url}}))
    return path


# argv cannot hold NUL: those cases reach the CLI through standard input only (the body).
CLI_CASES = [c for c in CASES if "\x00" not in c[2] or c[1] == "body"]


@pytest.mark.parametrize(
    ("field", "value", "message"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
async def test_a_bad_value_given_to_relay_post_exits_2_naming_the_field(
    config_file: Path, client: aioredis.Redis, field: str, value: str, message: str
) -> None:
    argv, stdin = _argv(field, value)
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "relay.cli", "--config", str(config_file), "post",
         "--topic=ukraine", *argv],
        input=stdin, capture_output=True, text=True, env=dict(os.environ), timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.splitlines()[-1] == f"error: {field}: {message}", result.stderr
    assert "Traceback" not in result.stderr
    assert await client.xlen(KEYS.updates) == 0
    assert await client.keys(KEYS.update("*")) == []
