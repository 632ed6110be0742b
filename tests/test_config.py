"""Config loading: every error names the file, the key and what was expected; exit status 2."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from relay import cli, logs, settings
from relay import config as config_mod
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


def test_example_config_shows_every_key() -> None:
    """Every key the declaration holds appears in the example, and the example has no other key."""
    declared = set(settings.key_paths(config_mod.Config))
    in_example = _flatten(yaml.safe_load(EXAMPLE.read_text()))
    assert declared - in_example == set(), "keys missing from the example"
    assert in_example - declared == set(), "keys the loader would refuse"
    assert {"redis.url", "topics[].slug", "channels[].destination", "telegram.budgets"} <= declared
    assert "telegram.token" not in declared and "path" not in declared  # not keys of the file


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
        ({"topics": [{"slug": "a", "breaking_roles": {"r": 1}}]}, "topics[0].breaking_roles",
         "guild (server) id to role id"),
        ({"topics": [{"slug": "a", "breaking_role_id": 1}]}, "topics[0].breaking_role_id",
         "write breaking_roles"),
        ({"topics": ["ukraine"]}, "topics[0]", "mapping"),
        ({"editors": {"telegram_users": ["alice"]}}, "editors.telegram_users", "numeric ids"),
        ({"channels": [{"destination": "telegram", "topics": ["ukraine"]}]},
         "channels[0].destination", "platform:chat"),
        ({"channels": [{"destination": "slack:1", "topics": ["ukraine"]}]},
         "channels[0].destination", "platform among"),
        ({"channels": [{"destination": "memory:x", "topics": ["ukraine"]}]},
         "channels[0].destination", "platform among telegram, discord, console"),
        ({"channels": [{"destination": "telegram:news", "topics": ["ukraine"]}]},
         "channels[0].destination", "(chat: must be an integer like -1001234567890, or @user"),
        ({"channels": [{"destination": "console:a b", "topics": ["ukraine"]}]},
         "channels[0].destination", "(chat: must be a name of letters"),
        ({"channels": [{"destination": "telegram:-100:x", "topics": ["ukraine"]}]},
         "channels[0].destination", "(thread: must be a positive integer, got 'x')"),
        ({"channels": [{"destination": "discord:", "topics": ["ukraine"]}]},
         "channels[0].destination", "(chat: must be a channel id (a snowflake: digits), got '')"),
        ({"redis": {"url": "redis://[::1"}}, "redis.url", "redis://"),
        ({"topics": [{"slug": "ukraine\n"}]}, "topics[0].slug", "lowercase"),
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
        ({"dispatcher": {"grace_seconds": math.nan}}, "dispatcher.grace_seconds", "finite"),
        ({"topics": [{"slug": "a", "color": "#-12345"}]}, "topics[0].color", "colour"),
        ({"topics": [{"title": "No slug"}]}, "topics[0].slug", "(required)"),
        ({"channels": [{"topics": ["ukraine"]}]}, "channels[0].destination", "(required)"),
        ({"channels": [{"destination": "console:x", "topics": [["ukraine"]]}]},
         "channels[0].topics", "list of topic slugs"),
        ({"redis": {1: "x", "urll": "y"}}, "redis.1", "unknown key"),
        ({"discord": {"command_guild_ids": [1, True]}}, "discord.command_guild_ids",
         "numeric ids"),
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


def _float_keys() -> list[str]:
    return [p for p, kind in settings.key_paths(config_mod.Config).items() if kind is float]


# What an item of a list of sections cannot do without, beside the key under test.
ITEM = {"feeds": {"url": "https://news.example/live.rss", "topic": "ukraine"}}


def _nested(path: str, value: Any) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    if head.endswith("[]"):  # a list of sections: one item
        return {head[:-2]: [{**ITEM[head[:-2]], **_nested(rest, value)}]}
    return {head: _nested(rest, value) if rest else value}


@pytest.mark.parametrize("key", _float_keys())
@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_every_number_must_be_finite(key: str, number: float) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(**_nested(key, number))
    assert info.value.key == key.replace("[]", "[0]")
    assert "not a finite number" in info.value.expected


def test_yaml_spellings_of_nan_and_infinity_are_refused(tmp_path: Path) -> None:
    assert len(_float_keys()) >= 10  # every budget, timeout and rate of the declaration
    for spelling in (".nan", ".inf", "-.inf", ".NaN", "+.Inf"):
        path = tmp_path / "r.yaml"
        text = f"topics: [{{slug: a}}]\ntelegram:\n  budgets:\n    global_per_second: {spelling}\n"
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            config_mod.load(path, env={})
        assert str(info.value).startswith(f"{path}: telegram.budgets.global_per_second: ")
        assert "a positive number" in info.value.expected and "finite" in info.value.expected


def test_left_out_keys_take_the_declared_defaults() -> None:
    cfg = config_mod.parse({"topics": [{"slug": "war-news"}]}, "r.yaml", {})
    assert cfg.path == "r.yaml"
    assert cfg.topics == (config_mod.TopicConfig("war-news", "War News"),)  # title from slug
    assert cfg.channels == ()
    assert (cfg.redis, cfg.editors) == (config_mod.RedisConfig(), config_mod.Editors())
    assert cfg.telegram == config_mod.TelegramConfig()
    assert cfg.discord == config_mod.DiscordConfig()
    assert cfg.api == config_mod.ApiConfig()
    assert cfg.console == config_mod.ConsoleConfig()
    assert cfg.dispatcher == config_mod.DispatcherConfig()
    blank = config_mod.parse(
        {"topics": [{"slug": "a"}], "redis": {"url": "", "key_prefix": ""}}, "r.yaml", {}
    )
    assert blank.redis.url is None and blank.redis.key_prefix == "relay"


def test_values_are_normalised_once_at_the_edge() -> None:
    cfg = _parse(
        discord={"command_guild_ids": [30, 10, 30]},
        redis={"data_dir": "~/relay-data"},
        dispatcher={"grace_seconds": 3},
    )
    assert cfg.discord.command_guild_ids == (10, 30)
    assert cfg.redis.data_dir == Path("~/relay-data").expanduser()
    assert cfg.dispatcher.grace_seconds == 3.0 and isinstance(cfg.dispatcher.grace_seconds, float)


def test_redis_url_from_the_environment_wins_over_the_file() -> None:
    """The example's `url: null` with REDIS_URL set (as compose does) is no unknown key."""
    env = {"REDIS_URL": "redis://:SECRET-PW@db:6379/0"}
    assert config_mod.load(EXAMPLE, env=env).redis.url == env["REDIS_URL"]
    cfg = _parse(env, redis={"url": "redis://file:6379"})
    assert cfg.redis.url == env["REDIS_URL"]
    with pytest.raises(ConfigError) as info:
        _parse({"REDIS_URL": "http://u:SECRET-PW@db"})
    assert info.value.key == "redis.url" and "REDIS_URL" in info.value.expected
    assert "SECRET" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        _parse(redis={"url": "http://u:SECRET-PW@db"})
    assert info.value.key == "redis.url" and "SECRET" not in str(info.value)


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
    logs.add_secrets(cfg.secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logs.MaskingFormatter())
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


def test_a_cluster_is_named_by_a_tcp_url_and_shards_its_hot_keys_by_default() -> None:
    single = _parse(redis={"url": "redis://db:6379"})
    assert (single.redis.cluster, single.redis.shards) == (False, 1)
    cluster = _parse(redis={"url": "redis://node1:7000", "cluster": True})
    assert (cluster.redis.cluster, cluster.redis.shards) == (True, 16)
    assert _parse(redis={"url": "rediss://n:7000", "cluster": True, "shards": 3}).redis.shards == 3
    for url in (None, "unix:///tmp/valkey.sock"):
        with pytest.raises(ConfigError) as info:
            _parse(redis={"url": url, "cluster": True})
        assert info.value.key == "redis.url" and "cluster" in info.value.expected
    for shards in (0, 1025, "many"):
        with pytest.raises(ConfigError) as info:
            _parse(redis={"shards": shards})
        assert info.value.key == "redis.shards"
