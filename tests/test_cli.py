"""The `relay` command end to end: real processes, the embedded Valkey, signals."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
import yaml

from relay import config as config_mod
from relay import model
from relay.adapters.memory import MemoryAdapter
from relay.app import Relay
from relay.backend import EmbeddedValkey, _socket_alive
from relay.chat_settings import TopicSettings
from relay.config import Config
from relay.errors import StreamError
from relay.keys import Keys
from relay.model import Destination

from .conftest import BASE_CONFIG

KEYS = Keys()


def relay_cmd(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "relay.cli", *args], capture_output=True, text=True,
        env={**os.environ, **(env or {})}, input=stdin, timeout=timeout,
    )  # fmt: skip


def write_config(path: Path, **sections: Any) -> Path:
    path.write_text(yaml.safe_dump({**BASE_CONFIG, **sections}))
    return path


def post_to_console(
    tmp_path: Path, redis_url: str | None, topics: list[dict[str, Any]], *post: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """`relay run` with the topic `ukraine` on one console channel, and `relay post --topic
    ukraine --wait <post…>` beside it: the post's result and what the console printed."""
    channels = [{"destination": "console:desk", "topics": ["ukraine"]}]
    cfg = write_config(tmp_path / "r.yaml", redis={"url": redis_url}, topics=topics,
                       channels=channels)  # fmt: skip
    with (tmp_path / "run.out").open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "relay.cli", "--config", str(cfg), "run"],
            stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ),
        )  # fmt: skip
        try:
            posted = relay_cmd("--config", str(cfg), "post", "--topic", "ukraine", *post,
                               "--wait", "--timeout", "60")  # fmt: skip
        finally:
            time.sleep(0.2)  # the console line is flushed as it is sent
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    return posted, (tmp_path / "run.out").read_text()


async def test_cli_post_is_delivered_through_the_memory_adapter(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    memory = MemoryAdapter()
    dest = Destination("memory", "newsroom-test")
    cfg_file = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    async with Relay(config, adapters=[memory]) as relay:
        await relay.subscriptions.subscribe(dest, ["ukraine"])
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        result = await asyncio.to_thread(
            relay_cmd, "--config", str(cfg_file), "post", "--topic", "ukraine",
            "--headline", "Talks resume", "--body", "-", "--link", "https://example.org/a",
            stdin="Delegations met for **three hours**.",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        update_id = result.stdout.strip()
        await memory.wait_for(1, "send")
        edit = await asyncio.to_thread(
            relay_cmd, "--config", str(cfg_file), "edit", update_id, "--headline", "Talks end"
        )
        assert edit.returncode == 0 and edit.stdout.strip() == f"{update_id} revision 2"
        await memory.wait_for(1, "edit")
        stop.set()
        await task
    [text] = memory.texts(dest)
    assert text.startswith("[War in Ukraine] Talks end")
    assert "Delegations met for three hours." in text and "https://example.org/a" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["post", "--topic", "sport", "--headline", "h"], "topic: unknown topic 'sport'"),
        (["post", "--topic", "ukraine", "--headline", "h", "--link", "nope"], "link: must be"),
        (["post", "--topic", "ukraine", "--headline", "h", "--credit", "AP"], "image.url"),
        (["edit", "missing", "--headline", "x"], "unknown update id 'missing'"),
        (["edit", "missing"], "nothing to change"),
        (["subscribe", "telegram", "-100", "sport"], "unknown topic 'sport'"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_field(
    tmp_path: Path, config: Config, args: list[str], message: str
) -> None:
    cfg_file = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    result = relay_cmd("--config", str(cfg_file), *args)
    assert result.returncode == 2
    assert message in result.stderr


async def test_cli_edit_with_a_bad_value_exits_2_and_changes_nothing(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    cfg_file = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})

    def relay(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return relay_cmd("--config", str(cfg_file), *args, stdin=stdin)

    posted = await asyncio.to_thread(
        relay, "post", "--topic", "ukraine", "--headline", "Talks", "--id", "cli-1",
        "--link", "https://example.org/a", "--image", "https://example.org/p.jpg",
    )  # fmt: skip
    assert posted.returncode == 0, posted.stderr
    cases = [
        (["--link", "javascript:alert(1)"], None, "link: must be an absolute http(s) URL"),
        (["--headline", " "], None, "headline: must not be empty"),
        (["--headline", "two\nlines"], None, "headline: must be a single line"),
        (["--image", "ftp://example.org/p.jpg"], None, "image.url: must be an absolute"),
        (["--body", "-"], "b" * 10_001, "body: must be at most 10000 characters"),
    ]
    for args, stdin, message in cases:
        result = await asyncio.to_thread(relay, "edit", "cli-1", *args, stdin=stdin)
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        assert message in result.stderr
    assert await client.xlen(KEYS.updates) == 1
    # '' removes the link and the photo; what is not given stays
    removed = await asyncio.to_thread(relay, "edit", "cli-1", "--link", "", "--image", "")
    assert removed.stdout.strip() == "cli-1 revision 2", removed.stderr
    [*_, (_, last)] = await client.xrange(KEYS.updates)
    edited = model.decode(last[b"update"])
    assert (edited.headline, edited.link, edited.image) == ("Talks", None, None)


def test_cli_subscriptions(tmp_path: Path, config: Config) -> None:
    cfg_file = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    base = ["--config", str(cfg_file)]
    assert relay_cmd(*base, "subscribe", "telegram", "-100", "ukraine", "climate").returncode == 0
    listed = relay_cmd(*base, "subscriptions", "telegram", "-100")
    assert listed.stdout.strip() == "telegram:-100: climate, ukraine"
    chosen = TopicSettings(silent="on", previews="off", breaking_only=True, digest=False)
    with redis.Redis.from_url(config.redis.url) as client:  # as /settings stores them
        client.hset(KEYS.chat_settings("telegram:-100"), "ukraine", chosen.encode() or "")
    listed = relay_cmd(*base, "subscriptions", "telegram", "-100")
    assert listed.stdout.strip() == (
        "telegram:-100: climate, ukraine (silent on, previews off, breaking only, digest off)"
    )
    out = relay_cmd(*base, "unsubscribe", "telegram", "-100", "climate")
    assert out.stdout.strip() == "telegram:-100: unsubscribed from climate"


def test_unreachable_redis_url_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    cfg_file = write_config(tmp_path / "r.yaml")
    result = relay_cmd("--config", str(cfg_file), "post", "--topic", "ukraine", "--headline", "h",
                       env={"REDIS_URL": f"unix://{tmp_path}/nothing.sock"})  # fmt: skip
    assert result.returncode == 1
    assert "cannot reach Redis at unix://" in result.stderr


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="lr-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_run_on_embedded_valkey_delivers_drains_on_sigterm_and_keeps_data(
    tmp_path: Path, data_dir: Path
) -> None:
    """The README's flow: `relay run` with no Redis configured, `relay post` from a 2nd shell."""
    cfg_file = write_config(
        tmp_path / "r.yaml",
        redis={"data_dir": str(data_dir)},
        channels=[{"destination": "console:stdout", "topics": ["ukraine"]}],
    )
    out = (tmp_path / "run.out").open("w+")
    run = subprocess.Popen([sys.executable, "-m", "relay.cli", "--config", str(cfg_file), "run"],
                           stdout=out, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _wait_for(lambda: _socket_alive(data_dir / "valkey.sock"))
        posted = relay_cmd("--config", str(cfg_file), "post", "--topic", "ukraine",
                           "--headline", "Embedded works")  # fmt: skip
        assert posted.returncode == 0, posted.stderr
        update_id = posted.stdout.strip()
        _wait_for(lambda: "Embedded works" in Path(out.name).read_text())
        run.send_signal(signal.SIGTERM)
        assert run.wait(30) == 0
        assert not _socket_alive(data_dir / "valkey.sock")  # it stopped the server it started
    finally:
        if run.poll() is None:
            run.kill()
    printed = Path(out.name).read_text()
    assert f"→ console:stdout  update={update_id} rev=1" in printed
    assert "[War in Ukraine] Embedded works" in printed
    # A later command finds the same data (AOF): the update can still be edited.
    edited = relay_cmd("--config", str(cfg_file), "edit", update_id, "--headline", "Again")
    assert edited.returncode == 0, edited.stderr
    assert edited.stdout.strip() == f"{update_id} revision 2"


def test_embedded_server_is_reused_not_restarted(data_dir: Path) -> None:
    first = EmbeddedValkey(data_dir)
    first.start()
    try:
        second = EmbeddedValkey(data_dir)
        second.start()
        assert first.owned and not second.owned
        second.stop()  # not its server: must leave it running
        assert _socket_alive(data_dir / "valkey.sock")
    finally:
        first.stop()
    assert not _socket_alive(data_dir / "valkey.sock")


def test_socket_path_too_long_is_refused_clearly(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    with pytest.raises(StreamError, match="too deep for a unix socket"):
        EmbeddedValkey(deep).start()


def test_commands_that_only_write_to_redis_need_no_bot_tokens(
    tmp_path: Path, config: Config
) -> None:
    # A CMS host runs `relay post` with the relay's config but none of the bots' tokens.
    cfg_file = write_config(
        tmp_path / "r.yaml", redis={"url": config.redis.url},
        telegram={"enabled": True}, discord={"enabled": True},
    )  # fmt: skip
    env = {"TELEGRAM_TOKEN": "", "DISCORD_TOKEN": ""}
    base = ["--config", str(cfg_file)]
    posted = relay_cmd(
        *base, "post", "--topic", "ukraine", "--headline", "h", "--id", "t1", env=env
    )
    assert posted.returncode == 0, posted.stderr
    for args in (["edit", "t1", "--headline", "h2"], ["delete", "t1"], ["status"],
                 ["dead-letters", "list"], ["subscribe", "telegram", "-100", "ukraine"],
                 ["subscriptions", "telegram", "-100"],
                 ["unsubscribe", "telegram", "-100"]):  # fmt: skip
        result = relay_cmd(*base, *args, env=env)
        assert result.returncode == 0, (args, result.stderr)
    for args in (["check"], ["run"]):  # these do talk to the platforms: they need the tokens
        result = relay_cmd(*base, *args, env=env)
        assert result.returncode == 2 and "TELEGRAM_TOKEN" in result.stderr


async def test_only_relay_run_syncs_the_config_channels(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    channel = Destination("console", "desk")
    worker = write_config(
        tmp_path / "worker.yaml", redis={"url": config.redis.url},
        channels=[{"destination": str(channel), "topics": ["ukraine"]}],
    )  # fmt: skip
    async with Relay(config_mod.load(worker, env={})) as relay:  # what `relay run` does first
        assert await relay.subscriptions.topics(channel) == ["ukraine"]
    # A CMS host whose copy of the config predates the channel: its commands leave it alone.
    stale = write_config(tmp_path / "stale.yaml", redis={"url": config.redis.url})
    for args in (["post", "--topic", "ukraine", "--headline", "h", "--id", "s1"], ["status"],
                 ["subscriptions", "console", "desk"]):  # fmt: skip
        result = await asyncio.to_thread(relay_cmd, "--config", str(stale), *args)
        assert result.returncode == 0, result.stderr
    async with Relay(config, adapters=[], sync_channels=False) as relay:
        assert await relay.subscriptions.topics(channel) == ["ukraine"]


async def test_an_overloaded_relay_refuses_a_post_in_one_line_exit_1(
    tmp_path: Path, client: aioredis.Redis, config: Config
) -> None:
    cfg_file = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url, "max_backlog": 1})
    post = ["--config", str(cfg_file), "post", "--topic", "ukraine", "--headline"]
    first = await asyncio.to_thread(relay_cmd, *post, "one")
    assert first.returncode == 0, first.stderr  # no relay runs: it waits in the backlog
    refused = await asyncio.to_thread(relay_cmd, *post, "two")
    assert refused.returncode == 1 and refused.stdout == ""
    [line] = [x for x in refused.stderr.splitlines() if x.startswith("error:")]
    assert "overloaded" in line and "retry after" in line
    assert "Traceback" not in refused.stderr
    assert await client.xlen(KEYS.updates) == 1


def test_a_redis_error_is_one_line_exit_1(tmp_path: Path, config: Config) -> None:
    cfg_file = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    base = ["--config", str(cfg_file)]
    assert (
        relay_cmd(*base, "post", "--topic", "ukraine", "--headline", "h", "--id", "w1").returncode
        == 0
    )

    async def corrupt() -> None:
        redis = aioredis.Redis.from_url(config.redis.url or "")
        await redis.delete(KEYS.update("w1"))
        await redis.set(KEYS.update("w1"), "not a hash")
        await redis.aclose()

    asyncio.run(corrupt())
    result = relay_cmd(*base, "edit", "w1", "--headline", "x")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("error: WRONGTYPE")
    assert "Traceback" not in result.stderr


async def test_one_shot_commands_print_their_answer_and_no_start_up_lines(
    tmp_path: Path, config: Config
) -> None:
    """`relay status` is an operator's shell command: the durability and platform lines that
    `relay run` logs at start would bury its answer (and `--verbose` still shows them)."""
    cfg_file = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    quiet = await asyncio.to_thread(relay_cmd, "--config", str(cfg_file), "status")
    assert quiet.returncode == 0 and "workers: 0 live" in quiet.stdout
    assert quiet.stderr == ""
    loud = await asyncio.to_thread(relay_cmd, "--config", str(cfg_file), "--verbose", "status")
    assert "durability" in loud.stderr
