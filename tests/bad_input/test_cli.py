"""Bad input to the `relay` command: exit 2 naming the field (1 for the rest), one line, no
traceback, and nothing stored changes.

Each case runs `relay` as a shell runs it: a subprocess, its arguments as raw bytes (a shell
can pass bytes that are not UTF-8), standard input as bytes, with one update `B` stored first.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml

from relay.config import Config
from relay.ingest import Ingest
from relay.model import Update

from ..conftest import BASE_CONFIG
from .snapshot import snapshot

# (name, argv, stdin, environment, config sections, exit status, what stderr says)
CASES: list[tuple[str, list[bytes], bytes, dict[str, str], dict[str, Any], int, str]] = [
    ("a headline that is not UTF-8", [b"post", b"--topic", b"ukraine", b"--headline", b"\xff"],
     b"", {}, {}, 2, "error: headline: must be UTF-8 text"),
    ("a topic that is not UTF-8", [b"post", b"--topic", b"ukr\xe9", b"--headline", b"h"],
     b"", {}, {}, 2, "error: topic: must be UTF-8 text"),
    ("an id that is not UTF-8", [b"post", b"--topic", b"ukraine", b"--headline", b"h", b"--id",
     b"\xc3("], b"", {}, {}, 2, "error: id: must be UTF-8 text"),
    ("an edited author that is not UTF-8", [b"edit", b"B", b"--author", b"\xed\xa0\x80"], b"",
     {}, {}, 2, "error: author: must be UTF-8 text"),
    ("a chat id that is not UTF-8", [b"subscribe", b"console", b"\xff", b"ukraine"], b"", {},
     {}, 2, "error: chat: must be UTF-8 text"),
    ("a thread that is not UTF-8", [b"subscribe", b"console", b"desk", b"ukraine", b"--thread",
     b"\x80"], b"", {}, {}, 2, "error: thread: must be UTF-8 text"),
    ("a topic list with bytes that are not UTF-8", [b"unsubscribe", b"console", b"desk",
     b"\xfe"], b"", {}, {}, 2, "error: topics: must be UTF-8 text"),
    ("a dead letter id that is not UTF-8", [b"dead-letters", b"retry", b"\xff"], b"", {}, {}, 2,
     "error: ids: must be UTF-8 text"),
    ("a body on stdin that is not UTF-8 (UTF-8 locale)", [b"post", b"--topic", b"ukraine",
     b"--headline", b"h", b"--body", b"-"], b"ok \xff\xfe", {"LC_ALL": "C.UTF-8"}, {}, 2,
     "error: body: standard input is not UTF-8 (at byte 3)"),
    ("a body on stdin that is not UTF-8 (C locale)", [b"post", b"--topic", b"ukraine",
     b"--headline", b"h", b"--body", b"-"], b"\xff", {"LC_ALL": "C"}, {}, 2,
     "error: body: standard input is not UTF-8"),
    ("a body on stdin in Latin-1, to an edit", [b"edit", b"B", b"--body", b"-"],
     "Caf\u00e9".encode("latin-1"), {}, {}, 2, "error: body: standard input is not UTF-8"),
    ("a body on stdin in UTF-16", [b"edit", b"B", b"--body", b"-"], "Talks".encode("utf-16"),
     {}, {}, 2, "error: body: standard input is not UTF-8"),
    ("a negative count", [b"dead-letters", b"list", b"--count", b"-1"], b"", {}, {}, 2,
     "argument --count: must be a whole number from 1 to 100,000"),
    ("a count of 0", [b"dead-letters", b"list", b"--count", b"0"], b"", {}, {}, 2,
     "argument --count: must be a whole number"),
    ("a count that is no number", [b"dead-letters", b"list", b"--count", b"many"], b"", {}, {},
     2, "argument --count: must be a whole number"),
    ("a count in exponent notation", [b"dead-letters", b"list", b"--count", b"1e9"], b"", {},
     {}, 2, "argument --count: must be a whole number"),
    ("a count beyond 64 bits", [b"dead-letters", b"list", b"--count", b"9" * 30], b"", {}, {},
     2, "argument --count: must be a whole number"),
    ("a count of Arabic-Indic digits", [b"dead-letters", b"list", b"--count",
     "\u0661\u0662".encode()], b"", {}, {}, 2, "argument --count: must be a whole number"),
    ("REDIS_URL with an unclosed IPv6 bracket", [b"status"], b"", {"REDIS_URL": "redis://[::1"},
     {}, 2, "redis.url"),
    ("REDIS_URL with a port that is no number", [b"status"], b"",
     {"REDIS_URL": "redis://localhost:port/0"}, {}, 2, "redis.url"),
    ("REDIS_URL with an unknown scheme", [b"post", b"--topic", b"ukraine", b"--headline", b"h"],
     b"", {"REDIS_URL": "ftp://example.org"}, {}, 2, "redis.url"),
    ("REDIS_URL where nothing listens", [b"status"], b"",
     {"REDIS_URL": "unix:///nonexistent/valkey.sock"}, {}, 1, "error: cannot reach Redis at"),
    ("an unknown topic", [b"post", b"--topic", b"sport", b"--headline", b"h"], b"", {}, {}, 2,
     "error: topic: unknown topic 'sport'"),
    ("a headline of spaces", [b"post", b"--topic", b"ukraine", b"--headline", b"   "], b"", {},
     {}, 2, "error: headline:"),
    ("a headline on two lines", [b"post", b"--topic", b"ukraine", b"--headline", b"a\nb"], b"",
     {}, {}, 2, "error: headline: must be a single line"),
    ("a javascript: link", [b"post", b"--topic", b"ukraine", b"--headline", b"h", b"--link",
     b"javascript:alert(1)"], b"", {}, {}, 2, "error: link:"),
    ("a credit with no photo", [b"post", b"--topic", b"ukraine", b"--headline", b"h",
     b"--credit", b"AP"], b"", {}, {}, 2, "error: image.url: --caption and --credit need"),
    ("an id taken by other content", [b"post", b"--topic", b"ukraine", b"--headline",
     b"Other", b"--id", b"B"], b"", {}, {}, 2, "error: id:"),
    ("an edit of an unknown id", [b"edit", b"nope", b"--headline", b"x"], b"", {}, {}, 2,
     "error: unknown update id 'nope'"),
    ("an edit with nothing to change", [b"edit", b"B"], b"", {}, {}, 2,
     "error: edit: nothing to change"),
    ("a delete of an unknown id", [b"delete", b"nope"], b"", {}, {}, 2,
     "error: unknown update id 'nope'"),
    ("a subscription to an unknown topic", [b"subscribe", b"console", b"desk", b"sport"], b"",
     {}, {}, 2, "error: topic: unknown topic 'sport'"),
    ("an unknown platform", [b"subscribe", b"slack", b"desk", b"ukraine"], b"", {}, {}, 2,
     "argument platform: invalid choice: 'slack'"),
    ("an unknown command", [b"publish"], b"", {}, {}, 2, "invalid choice: 'publish'"),
    ("--breaking with a value", [b"post", b"--topic", b"ukraine", b"--headline", b"h",
     b"--breaking=maybe"], b"", {}, {}, 2, "ignored explicit argument 'maybe'"),
    ("lease_seconds: .inf", [b"check"], b"", {}, {"dispatcher": {"lease_seconds": float("inf")}},
     2, "dispatcher.lease_seconds"),
    ("grace_seconds: .nan", [b"run"], b"", {}, {"dispatcher": {"grace_seconds": float("nan")}},
     2, "dispatcher.grace_seconds"),
    ("the API on every interface with no token (check)", [b"check"], b"", {},
     {"api": {"host": "0.0.0.0"}}, 2, "api.host: a loopback address while RELAY_API_TOKEN"),
    ("the API on every interface with no token (run)", [b"run"], b"", {},
     {"api": {"host": "0.0.0.0"}}, 2, "api.host: a loopback address while RELAY_API_TOKEN"),
    ("telegram on with no token (run)", [b"run"], b"", {}, {"telegram": {"enabled": True}}, 2,
     "telegram.token_env: the environment variable TELEGRAM_TOKEN"),
]  # fmt: skip


def _write(path: Path, redis_url: str, sections: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({**BASE_CONFIG, "redis": {"url": redis_url}, **sections}))
    return path


def _relay(cfg: Path, argv: list[bytes], stdin: bytes, env: dict[str, str]) -> Any:
    environ = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TELEGRAM_TOKEN")}
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"relay.cli", b"--config", str(cfg).encode(), *argv],
        input=stdin, capture_output=True, env={**environ, **env}, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "stdin", "env", "sections", "status", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_bad_input_exits_with_one_clear_line_and_changes_nothing(
    tmp_path: Path,
    client: aioredis.Redis,
    config: Config,
    argv: list[bytes],
    stdin: bytes,
    env: dict[str, str],
    sections: dict[str, Any],
    status: int,
    message: str,
) -> None:
    ingest = Ingest.from_config(client, config)
    await ingest.publish(Update(id="B", topic="ukraine", headline="Stored before"))
    before = await snapshot(client)
    cfg = _write(tmp_path / "r.yaml", config.redis.url or "", sections)
    result = await asyncio.to_thread(_relay, cfg, argv, stdin, env)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == status, stderr
    assert message in stderr
    assert "Traceback" not in stderr and result.stdout == b""
    assert await snapshot(client) == before
