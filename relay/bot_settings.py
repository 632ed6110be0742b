"""Several bots per platform: `telegram.bots` and `discord.bots`, and the one list both mean.

A platform runs either the one bot of its section's own keys (`token_env`, `budgets`: a bot
named `main`, as before this module existed) or, when `bots` is given, each bot listed there,
in order: a unique `name` (lowercase letters, digits, `-`), the environment variable holding
its token (`token_env`) and its `budgets` (the section's `budgets` when left out). The first
bot is the platform's default: it delivers to a destination no bot is bound to (a config
channel without `bot:`, a subscription made before the bot list existed). `telegram_bots` and
`discord_bots` give that list either way; `check` holds the rules that span keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Protocol

from relay.errors import ConfigError
from relay.model import SLUG_PATTERN
from relay.settings import Context, Rule, source
from relay.telegram_settings import TelegramBudgets

DEFAULT_BOT = "main"  # the name of the one bot a section's own keys describe

BotName = Annotated[
    str, Rule("a bot name: lowercase letters, digits and '-' (max 32)", test=SLUG_PATTERN.match)
]
OptionalBotName = Annotated[
    str | None,
    Rule("a bot name: lowercase letters, digits and '-' (max 32)", test=SLUG_PATTERN.match,
         blank=True),
]  # fmt: skip
EnvName = Annotated[str, Rule("an environment variable name", test=str.isidentifier)]
Positive = Annotated[float, Rule("a positive number", test=lambda x: x > 0)]
Count = Annotated[int, Rule("a positive integer", test=lambda n: n >= 1)]


def _bot_token(context: Context, siblings: Mapping[str, Any]) -> str:
    """A listed bot's token, from its own variable (`check` says when one is missing)."""
    return context.env.get(siblings["token_env"], "")


@dataclass(frozen=True)
class DiscordBudgets:
    """Discord's limits per bot token: global requests and the per-channel message bucket."""

    global_per_second: Positive = 50.0
    per_channel: Count = 5
    per_channel_seconds: Positive = 5.0
    max_ratelimit_wait: Positive = 30.0


@dataclass(frozen=True)
class TelegramBot:
    """One Telegram bot of `telegram.bots`: its name, token variable and budgets."""

    name: BotName
    token_env: EnvName
    token: str = field(default="", repr=False, metadata=source(_bot_token))
    budgets: TelegramBudgets | None = None  # None: telegram.budgets


@dataclass(frozen=True)
class DiscordBot:
    """One Discord bot (application) of `discord.bots`: its name, token variable and budgets."""

    name: BotName
    token_env: EnvName
    token: str = field(default="", repr=False, metadata=source(_bot_token))
    budgets: DiscordBudgets | None = None  # None: discord.budgets


TelegramBots = Annotated[tuple[TelegramBot, ...], Rule("a list of {name, token_env, budgets}")]
DiscordBots = Annotated[tuple[DiscordBot, ...], Rule("a list of {name, token_env, budgets}")]


class _Section(Protocol):
    @property
    def enabled(self) -> bool: ...
    @property
    def token_env(self) -> str: ...
    @property
    def token(self) -> str: ...


class TelegramSection(_Section, Protocol):
    """`relay.config.TelegramConfig`, as this module reads it."""

    @property
    def bots(self) -> tuple[TelegramBot, ...]: ...
    @property
    def budgets(self) -> TelegramBudgets: ...
    @property
    def mode(self) -> str: ...


class DiscordSection(_Section, Protocol):
    """`relay.config.DiscordConfig`, as this module reads it."""

    @property
    def bots(self) -> tuple[DiscordBot, ...]: ...
    @property
    def budgets(self) -> DiscordBudgets: ...


def telegram_bots(tg: TelegramSection) -> tuple[TelegramBot, ...]:
    """The Telegram bots the relay runs, the default first, each with its budgets."""
    if not tg.bots:
        return (TelegramBot(DEFAULT_BOT, tg.token_env, tg.token, tg.budgets),)
    return tuple(replace(b, budgets=b.budgets or tg.budgets) for b in tg.bots)


def discord_bots(dc: DiscordSection) -> tuple[DiscordBot, ...]:
    """The Discord bots the relay runs, the default first, each with its budgets."""
    if not dc.bots:
        return (DiscordBot(DEFAULT_BOT, dc.token_env, dc.token, dc.budgets),)
    return tuple(replace(b, budgets=b.budgets or dc.budgets) for b in dc.bots)


Section = TelegramSection | DiscordSection


def bot_names(section: Section) -> tuple[str, ...]:
    """The names of a platform's bots, the default first."""
    return tuple(b.name for b in section.bots) or (DEFAULT_BOT,)


class _Channel(Protocol):
    @property
    def destination(self) -> Any: ...
    @property
    def bot(self) -> str | None: ...


def check(
    file: str,
    sections: Mapping[str, Section],
    channels: Sequence[_Channel],
    need_tokens: bool,
) -> None:
    """The rules across keys: unique names and tokens, each token set, known channel bots."""
    for platform, section in sections.items():
        bots: Sequence[TelegramBot | DiscordBot] = section.bots
        names: set[str] = set()
        variables: dict[str, str] = {}
        tokens: dict[str, str] = {}
        for i, bot in enumerate(bots):
            where = f"{platform}.bots[{i}]"
            if bot.name in names:
                expected = f"a unique name; {bot.name!r} appears twice"
                raise ConfigError(file, f"{where}.name", expected)
            names.add(bot.name)
            if bot.token_env in variables:
                expected = f"a variable of its own; bot {variables[bot.token_env]!r} reads it too"
                raise ConfigError(file, f"{where}.token_env", expected)
            variables[bot.token_env] = bot.name
            if not section.enabled or not need_tokens:
                continue
            if not bot.token:
                expected = f"the environment variable {bot.token_env} to hold the token"
                raise ConfigError(file, f"{where}.token_env", expected)
            if bot.token in tokens:  # one bot twice would spend its budgets twice over
                expected = f"a token of its own; {bot.token_env} holds the token of bot " \
                           f"{tokens[bot.token]!r}"  # fmt: skip
                raise ConfigError(file, f"{where}.token_env", expected)
            tokens[bot.token] = bot.name
    tg = sections.get("telegram")
    if tg is not None and tg.enabled and len(tg.bots) > 1 and getattr(tg, "mode", "") != "polling":
        expected = "polling with several bots (webhook mode serves one bot)"
        raise ConfigError(file, "telegram.mode", expected)
    for i, channel in enumerate(channels):
        platform = channel.destination.platform
        if channel.bot is None:
            continue
        found = sections.get(platform)
        known = bot_names(found) if found is not None else ()
        if channel.bot not in known:
            expected = (f"one of the {platform} bots: {', '.join(known)}" if known
                        else "no bot: a console destination has none")  # fmt: skip
            raise ConfigError(file, f"channels[{i}].bot", f"{expected}, got {channel.bot!r}")
