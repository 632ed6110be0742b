"""`telegram.bots` / `discord.bots`: several bots per platform, and the one bot they default to."""

from __future__ import annotations

from typing import Any

import pytest

from relay import config as config_mod
from relay.bot_settings import DEFAULT_BOT, discord_bots, telegram_bots
from relay.config import Config
from relay.errors import ConfigError

from .conftest import BASE_CONFIG

TG_A, TG_B = "111:secret-token-of-bot-a", "222:secret-token-of-bot-b"
DC_A, DC_B = "MTIz.discord-token-a", "NDU2.discord-token-b"
ENV = {"TG_A": TG_A, "TG_B": TG_B, "DC_A": DC_A, "DC_B": DC_B}


def _parse(env: dict[str, str] | None = None, **sections: Any) -> Config:
    return config_mod.parse({**BASE_CONFIG, **sections}, "relay.yaml", ENV if env is None else env)


PAID = {"paid_broadcast": True}
TWO_TG = {"enabled": True, "budgets": {"global_per_second": 20},
          "bots": [{"name": "national", "token_env": "TG_A"},
                   {"name": "east", "token_env": "TG_B", "budgets": PAID}]}  # fmt: skip
TWO_DC = {"enabled": True, "bots": [{"name": "national", "token_env": "DC_A"},
                                    {"name": "west", "token_env": "DC_B"}]}  # fmt: skip


def test_the_single_bot_keys_mean_one_bot_named_main() -> None:
    env = {"TELEGRAM_TOKEN": TG_A}
    config = _parse(env, telegram={"enabled": True, "budgets": {"paid_broadcast": True}})
    (bot,) = telegram_bots(config.telegram)
    assert (bot.name, bot.token_env, bot.token) == (DEFAULT_BOT, "TELEGRAM_TOKEN", TG_A)
    assert bot.budgets == config.telegram.budgets and bot.budgets.paid_broadcast
    assert [b.name for b in discord_bots(config.discord)] == [DEFAULT_BOT]


def test_each_listed_bot_reads_its_own_token_and_budgets() -> None:
    config = _parse(telegram=TWO_TG, discord=TWO_DC)
    national, east = telegram_bots(config.telegram)
    assert (national.name, national.token, east.name, east.token) == (
        "national", TG_A, "east", TG_B)  # fmt: skip
    assert national.budgets == config.telegram.budgets  # left out: the section's
    assert national.budgets is not None and national.budgets.global_per_second == 20
    assert east.budgets is not None and east.budgets.paid_broadcast
    assert east.budgets.global_per_second == 30  # its own budgets, defaults and all
    assert [(b.name, b.token) for b in discord_bots(config.discord)] == [
        ("national", DC_A), ("west", DC_B)]  # fmt: skip
    # Every token is a secret: masked in logs, never in a repr.
    assert {TG_A, TG_B, DC_A, DC_B} <= set(config.secrets)
    for token in (TG_A, TG_B, DC_A, DC_B):
        assert token not in repr(config)


def test_a_channel_names_its_bot() -> None:
    channels = [{"destination": "telegram:-100", "topics": ["ukraine"], "bot": "east"},
                {"destination": "discord:123", "topics": ["ukraine"]}]  # fmt: skip
    config = _parse(telegram=TWO_TG, discord=TWO_DC, channels=channels)
    assert [c.bot for c in config.channels] == ["east", None]


@pytest.mark.parametrize(
    ("sections", "key", "expected"),
    [
        ({"telegram": {**TWO_TG, "bots": [TWO_TG["bots"][0], TWO_TG["bots"][0]]}},
         "telegram.bots[1].name", "unique name; 'national' appears twice"),
        ({"telegram": {**TWO_TG, "bots": [{"name": "a", "token_env": "TG_A"},
                                          {"name": "b", "token_env": "TG_A"}]}},
         "telegram.bots[1].token_env", "bot 'a' reads it too"),
        ({"telegram": {**TWO_TG, "bots": [{"name": "a", "token_env": "TG_A"},
                                          {"name": "b", "token_env": "TELEGRAM_TOKEN"}]}},
         "telegram.bots[1].token_env", "holds the token of bot 'a'"),
        ({"telegram": {**TWO_TG, "bots": [{"name": "a", "token_env": "MISSING"}]}},
         "telegram.bots[0].token_env", "MISSING to hold the token"),
        ({"telegram": {**TWO_TG, "bots": [{"name": "East", "token_env": "TG_A"}]}},
         "telegram.bots[0].name", "bot name"),
        ({"telegram": {**TWO_TG, "bots": [{"name": "a"}]}},
         "telegram.bots[0].token_env", "(required)"),
        ({"discord": {**TWO_DC, "bots": [{"name": "a", "token_env": "DC_A", "budgets": {"x": 1}}]}},
         "discord.bots[0].budgets.x", "unknown key"),
        ({"telegram": TWO_TG,
          "channels": [{"destination": "telegram:-100", "topics": ["ukraine"], "bot": "west"}]},
         "channels[0].bot", "one of the telegram bots: national, east, got 'west'"),
        ({"channels": [{"destination": "telegram:-100", "topics": ["ukraine"], "bot": "x"}],
          "telegram": {"enabled": True}},
         "channels[0].bot", "one of the telegram bots: main"),
        ({"channels": [{"destination": "console:x", "topics": ["ukraine"], "bot": "main"}]},
         "channels[0].bot", "a console destination has none"),
        ({"telegram": {**TWO_TG, "mode": "webhook", "webhook": {"url": "https://x.org/hook"}},
          "api": {"enabled": True}},
         "telegram.mode", "polling with several bots"),
    ],
)  # fmt: skip
def test_bot_errors_name_the_key(sections: dict[str, Any], key: str, expected: str) -> None:
    env = {**ENV, "TELEGRAM_WEBHOOK_SECRET": "s3cret-webhook-secret-0123", "TELEGRAM_TOKEN": TG_A}
    if "telegram" not in sections:
        del env["TELEGRAM_TOKEN"]  # a token for a platform that is off is refused
    with pytest.raises(ConfigError) as info:
        _parse(env=env, **sections)
    assert info.value.key == key
    assert expected in info.value.expected
    assert TG_A not in str(info.value) and TG_B not in str(info.value)


def test_with_a_bot_list_the_section_token_is_not_required() -> None:
    config = _parse(env={"TG_A": TG_A, "TG_B": TG_B}, telegram=TWO_TG)
    assert config.telegram.token == ""
    # A command that only writes to Redis needs no token at all.
    assert config_mod.parse({**BASE_CONFIG, "telegram": TWO_TG}, "r.yaml", {}, need_tokens=False)
