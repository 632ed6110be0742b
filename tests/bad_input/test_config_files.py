"""Bad config files and environments: `relay check` exits 2 with a ConfigError naming the file,
where, and what was expected; never a traceback, a hang or memory exhausted.

Each case runs `relay --config <file> check` as the operator runs it, in a subprocess.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from relay import config as config_mod
from relay import yamlfile
from relay.errors import ConfigError

GOOD = yaml.safe_dump({"topics": [{"slug": "ukraine", "title": "Café"}]}, allow_unicode=True)
BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    + "".join(
        f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "topics: [{slug: ukraine, description: *i}]\n"
)  # "billion laughs": 9^9 strings once expanded
DEEP_FLOW = "topics: " + "[" * 50_000 + "]" * 50_000 + "\n"
DEEP_BLOCK = "".join(f"{'  ' * i}k{i}:\n" for i in range(100)) + "  " * 100 + "x\n"
UTF16 = "a UTF-8 YAML file (this one is UTF-16: save it as UTF-8)"


def _file(content: bytes) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        path = tmp / "relay.yaml"
        path.write_bytes(content)
        return str(path)

    return make


def _fifo(tmp: Path) -> str:
    path = tmp / "relay.fifo"
    os.mkfifo(path)  # nobody ever writes: reading it would wait forever
    return str(path)


def _loop(tmp: Path) -> str:
    (tmp / "a.yaml").symlink_to(tmp / "b.yaml")
    (tmp / "b.yaml").symlink_to(tmp / "a.yaml")
    return str(tmp / "a.yaml")


def _path(path: str) -> Callable[[Path], str]:
    return lambda tmp: path


# (what it attacks, the file, where, what was expected)
CASES: list[tuple[str, Callable[[Path], str], str, str]] = [
    ("an alias bomb", _file(BOMB.encode()), "line 2", "valid YAML (no aliases (*name): write "
     "the value out)"),
    ("one alias", _file(b"topics:\n  - &t {slug: ukraine}\n  - *t\n"), "line 3",
     "valid YAML (no aliases (*name): write the value out)"),
    ("a merge key", _file(b"d: &d {silent: true}\ntopics:\n  - {<<: *d, slug: a}\n"), "line 3",
     "valid YAML (no aliases (*name): write the value out)"),
    ("flow lists nested 50,000 deep", _file(DEEP_FLOW.encode()), "line 1",
     "valid YAML (nesting at most 32 levels deep)"),
    ("mappings nested 100 deep", _file(DEEP_BLOCK.encode()), "line 32",
     "valid YAML (nesting at most 32 levels deep)"),
    ("a Latin-1 file", _file(GOOD.encode("latin-1")), "line 3",
     "a UTF-8 YAML file (byte 0xe9 is not UTF-8: save it as UTF-8)"),
    ("a UTF-16 file", _file(GOOD.encode("utf-16")), "line 1", UTF16),
    ("a UTF-16 big-endian file", _file(b"\xfe\xff" + GOOD.encode("utf-16-be")), "line 1", UTF16),
    ("/dev/zero", _path("/dev/zero"), "(file)",
     "a regular YAML file (not a device, pipe or socket)"),
    ("/dev/urandom", _path("/dev/urandom"), "(file)",
     "a regular YAML file (not a device, pipe or socket)"),
    ("a FIFO nobody writes to", _fifo, "(file)",
     "a regular YAML file (not a device, pipe or socket)"),
    ("a directory", lambda tmp: str(tmp), "(file)", "a YAML file, not a directory"),
    ("a file of 2 MiB", _file(GOOD.encode() + b"#" * (2 << 20)), "(file)",
     "a YAML file of at most 1024 KiB"),
    ("a missing file", lambda tmp: str(tmp / "nope.yaml"), "(file)",
     "a readable YAML file (No such file or directory)"),
    ("a symlink loop", _loop, "(file)", "a readable YAML file (Too many levels of symbolic links)"),
    ("a NUL byte", _file(GOOD.encode() + b"x: \x00\n"), "line 4",
     "valid YAML (a character YAML does not allow: U+0000)"),
    ("an integer of 5,000 digits", _file(b"api:\n  port: " + b"9" * 5000 + b"\n"), "line 2",
     "valid YAML (a readable value (Exceeds the limit (4300 digits)"),
    ("a date that does not exist", _file(GOOD.encode() + b"when: 2001-13-45\n"), "line 4",
     "valid YAML (a readable value (month must be in 1..12))"),
    ("a Python object tag", _file(b"topics: !!python/object:os.system [ls]\n"), "line 1",
     "valid YAML (could not determine a constructor for the tag"),
    ("a bad IPv6 Redis URL", _file(GOOD.encode() + b"redis:\n  url: redis://[::1\n"),
     "redis.url", "a redis://, rediss:// or unix:// URL (or REDIS_URL)\n"),
    ("a Redis port out of range", _file(GOOD.encode() + b"redis: {url: 'redis://h:99999'}\n"),
     "redis.url", "a redis://, rediss:// or unix:// URL"),
    ("a unix:// URL with no socket", _file(GOOD.encode() + b"redis: {url: 'unix://'}\n"),
     "redis.url", "a redis://, rediss:// or unix:// URL"),
]  # fmt: skip


def _limit_memory() -> None:
    """1 GiB of address space: a config that would exhaust memory fails fast instead."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def _check(config: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay.cli", "--config", config, "check"],
        capture_output=True, text=True, timeout=120,  # a guard against a hang, not a timing
        preexec_fn=_limit_memory,
        env={k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RELAY_CONFIG")}
        | (env or {}),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("make", "where", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_config_file_is_a_config_error_naming_file_and_where(
    tmp_path: Path, make: Callable[[Path], str], where: str, expected: str
) -> None:
    path = make(tmp_path)
    result = _check(path)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.startswith(f"config error: {path}: {where}: {expected}"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_redis_url_in_the_environment_is_a_config_error_that_shows_no_secret(
    tmp_path: Path,
) -> None:
    path = _file(GOOD.encode())(tmp_path)
    for url in ("redis://[::1", "redis://:s3cret-pw@[::1", "redis://:s3cret-pw@h:port"):
        result = _check(path, {"REDIS_URL": url})
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip() == (
            f"config error: {path}: redis.url: a redis://, rediss:// or unix:// URL "
            "(or REDIS_URL); the environment variable REDIS_URL holds something else"
        )


def test_a_utf8_byte_order_mark_and_an_anchor_without_alias_are_fine(tmp_path: Path) -> None:
    path = _file(b"\xef\xbb\xbf" + GOOD.encode() + b"dispatcher: &d {max_attempts: 3}\n")(tmp_path)
    result = _check(path)
    assert result.returncode == 0, result.stderr
    assert config_mod.load(path, env={}).topics[0].title == "Café"


def test_the_depth_limit_leaves_room_for_any_real_config(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"
    assert config_mod.load(example, env={}).topics
    depth = yamlfile.MAX_DEPTH
    path = _file(("[" * depth + "]" * depth).encode())(tmp_path)
    data = yamlfile.load(path)
    for _ in range(depth - 1):
        (data,) = data
    assert data == []
    path = _file(("[" * (depth + 1) + "]" * (depth + 1)).encode())(tmp_path)
    with pytest.raises(ConfigError, match="nesting at most"):
        yamlfile.load(path)


def test_an_alias_bomb_is_refused_before_anything_is_expanded(tmp_path: Path) -> None:
    path = _file(BOMB.encode())(tmp_path)
    with pytest.raises(ConfigError) as info:
        yamlfile.load(path)  # PyYAML alone shares what aliases name: safe to try in-process
    assert (info.value.file, info.value.key) == (path, "line 2")
