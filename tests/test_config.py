"""Config loading: every error names the file, the key and what was expected; exit status 2."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from relay import cli
from relay import config as config_mod
from relay.cli import Redact
from relay.errors import ConfigError

from .conftest import BASE_CONFIG, ROOT

EXAMPLE = ROOT / "config" / "relay.example.yaml"


def _parse(env: dict[str, str] | None = None, **sections: Any) -> config_mod.Config:
    return config_mod.parse({**BASE_CONFIG, **sections}, "relay.yaml", env or {})


def test_example_config_is_valid() -> None:
    cfg = config_mod.load(EXAMPLE, env={})
    assert cfg.topic_slugs == ("ukraine", "climate")
    assert cfg.redis.url is None  # the embedded default
    assert cfg.topic("ukraine") is not None and cfg.topic("ukraine").color == 0x0057B7  # type: ignore[union-attr]


def _flatten(data: Any, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    if isinstance(data, dict):
        for k, v in data.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            keys.add(path)
            keys |= _flatten(v, path)
    elif isinstance(data, list):
        for item in data:
            keys |= _flatten(item, prefix + "[]")
    return keys


def test_example_config_shows_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key the loader reads appears in the example, and the example has no other key."""
    read: set[str] = set()
    original = config_mod._Section.raw

    def recording(self: config_mod._Section, name: str) -> Any:
        read.add(re.sub(r"\[\d+\]", "[]", self.key(name)))
        return original(self, name)

    monkeypatch.setattr(config_mod._Section, "raw", recording)
    config_mod.load(EXAMPLE, env={})
    in_example = _flatten(yaml.safe_load(EXAMPLE.read_text()))
    assert read == in_example


@pytest.mark.parametrize(
    ("sections", "key", "expected"),
    [
        ({"colour": 1}, "colour", "unknown key"),
        ({"redis": {"urll": "redis://x"}}, "redis.urll", "unknown key"),
        ({"redis": {"url": "http://x"}}, "redis.url", "redis://"),
        ({"redis": {"stream_maxlen": "many"}}, "redis.stream_maxlen", "positive integer"),
        ({"redis": {"stream_maxlen": 0}}, "redis.stream_maxlen", "positive integer"),
        ({"topics": []}, "topics", "non-empty list"),
        ({"topics": [{"slug": "Ukraine War"}]}, "topics[0].slug", "lowercase"),
        ({"topics": [{"slug": "a"}, {"slug": "a"}]}, "topics[1].slug", "unique"),
        ({"topics": [{"slug": "a", "color": "blue"}]}, "topics[0].color", "colour"),
        ({"topics": [{"slug": "a", "silent": "yes"}]}, "topics[0].silent", "true or false"),
        ({"topics": [{"slug": "a", "link_previews": "x"}]}, "topics[0].link_previews", "auto"),
        ({"topics": [{"slug": "a", "breaking_role_id": "r"}]}, "topics[0].breaking_role_id",
         "role id"),
        ({"topics": ["ukraine"]}, "topics[0]", "mapping"),
        ({"editors": {"telegram_users": ["alice"]}}, "editors.telegram_users", "numeric ids"),
        ({"channels": [{"destination": "telegram", "topics": ["ukraine"]}]},
         "channels[0].destination", "platform:chat"),
        ({"channels": [{"destination": "slack:1", "topics": ["ukraine"]}]},
         "channels[0].destination", "platform among"),
        ({"channels": [{"destination": "console:x", "topics": ["sport"]}]},
         "channels[0].topics", "unknown 'sport'"),
        ({"channels": [{"destination": "console:x"}]}, "channels[0].topics", "non-empty"),
        ({"channels": [{"destination": "console:x", "topics": ["ukraine"]}],
          "console": {"enabled": False}}, "channels[0].destination", "console.enabled: true"),
        ({"telegram": {"enabled": True}}, "telegram.token_env", "TELEGRAM_TOKEN"),
        ({"discord": {"enabled": True, "token_env": "MY_DISCORD"}}, "discord.token_env",
         "MY_DISCORD"),
        ({"telegram": {"api_url": "api.telegram.org"}}, "telegram.api_url", "http"),
        ({"discord": {"gateway_url": "https://gw"}}, "discord.gateway_url", "ws"),
        ({"telegram": {"budgets": {"global_per_second": -1}}},
         "telegram.budgets.global_per_second", "positive number"),
        ({"telegram": {"budgets": {"per_second": 1}}}, "telegram.budgets.per_second",
         "unknown key"),
        ({"api": {"port": 70000}}, "api.port", "TCP port"),
        ({"api": {"port": True}}, "api.port", "TCP port"),
        ({"dispatcher": {"max_attempts": 1.5}}, "dispatcher.max_attempts", "positive integer"),
    ],
)  # fmt: skip
def test_every_error_names_file_key_and_expectation(
    sections: dict[str, Any], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(**sections)
    assert info.value.file == "relay.yaml"
    assert info.value.key == key
    assert expected in info.value.expected
    assert str(info.value).startswith(f"relay.yaml: {key}: ")


def test_tokens_come_from_the_environment_and_never_show() -> None:
    env = {
        "TELEGRAM_TOKEN": "123:SECRET-TG",
        "DISCORD_TOKEN": "SECRET-DC",
        "RELAY_API_TOKEN": "SECRET-API",
        "REDIS_URL": "redis://:SECRET-PW@db:6379/0",
    }
    cfg = _parse(env, telegram={"enabled": True}, discord={"enabled": True})
    assert cfg.telegram.token == "123:SECRET-TG"
    assert cfg.discord.token == "SECRET-DC"
    assert cfg.api.token == "SECRET-API"
    assert cfg.redis.url == "redis://:SECRET-PW@db:6379/0"
    assert "SECRET" not in repr(cfg)


def test_load_reads_relay_config_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"topics": [{"slug": "ukraine"}]}))
    cfg = config_mod.load(None, env={"RELAY_CONFIG": str(path)})
    assert cfg.path == str(path) and cfg.topic_slugs == ("ukraine",)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="readable YAML file"):
        config_mod.load(tmp_path / "missing.yaml", env={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics: [\n  - slug: a\n  oops")
    with pytest.raises(ConfigError) as info:
        config_mod.load(bad, env={})
    assert info.value.file == str(bad) and info.value.key.startswith("line ")
    with pytest.raises(ConfigError, match="RELAY_CONFIG"):
        config_mod.load(None, env={})


def test_relay_check_exits_0_for_valid_and_2_for_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--config", str(EXAMPLE), "check"]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"topics": [{"slug": "ukraine", "colour": "red"}]}))
    assert cli.main(["--config", str(bad), "check"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: topics[0].colour: unknown key" in err


def test_secrets_are_masked_in_every_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A library logging a URL with the bot token (httpx does) shows *** instead."""
    env = {"TELEGRAM_TOKEN": "123456:SECRET-TG-TOKEN", "REDIS_URL": "redis://u:pa55word@db:6379"}
    cfg = _parse(env, telegram={"enabled": True})
    assert set(cfg.secrets) == {"123456:SECRET-TG-TOKEN", "pa55word"}
    handler = logging.StreamHandler()
    handler.addFilter(Redact(cfg.secrets))
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    try:
        log.warning("POST https://api.telegram.org/bot%s/sendMessage", "123456:SECRET-TG-TOKEN")
        log.warning("connecting to redis://u:pa55word@db:6379")
    finally:
        log.removeHandler(handler)
    err = capsys.readouterr().err
    assert "SECRET" not in err and "pa55word" not in err
    assert "bot***/sendMessage" in err and "redis://u:***@db" in err
