"""The one typed configuration object, built once from the YAML file and the environment.

The dataclasses below are the declaration: each field is a key of the file, with its type, its
default and (in `Annotated[...]`) its constraint, written once; `relay.settings` walks them to
read the file. Only this module reads `os.environ`. Secrets (tokens, a Redis URL with a password)
never appear in a `repr` or an error message. Every error names the file, the key and what was
expected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, ClassVar

from relay import (
    bot_settings,
    desk_settings,
    feed_settings,
    logs,
    redis_settings,
    telegram_settings,
    yamlfile,
)
from relay.bot_settings import DiscordBots, OptionalBotName, TelegramBots
from relay.bot_settings import DiscordBudgets as DiscordBudgets
from relay.errors import ConfigError, InvalidUpdate
from relay.feed_settings import FeedConfig
from relay.i18n import DEFAULT as DEFAULT_LANGUAGE
from relay.i18n import LANGUAGES
from relay.labels import Template
from relay.media_settings import MediaConfig
from relay.model import SLUG_PATTERN, Destination
from relay.redis_settings import RedisConfig
from relay.settings import (
    Context,
    Invalid,
    Refused,
    Rule,
    build,
    default_from,
    source,
)
from relay.telegram_settings import Mode, TelegramBudgets, WebhookConfig

PLATFORMS = ("telegram", "discord", "console")


def _colour(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 0xFFFFFF:
        return raw
    digits = raw[1:] if isinstance(raw, str) and raw.startswith("#") else ""
    if len(digits) == 6 and all(c in "0123456789abcdefABCDEF" for c in digits):
        return int(digits, 16)
    raise ValueError(raw)


def _destination(raw: Any) -> Destination:
    try:
        return Destination.parse(raw if isinstance(raw, str) else "")
    except InvalidUpdate as exc:
        platforms = f"a platform among {', '.join(PLATFORMS)}"
        raise Refused(platforms if exc.field == "platform" else str(exc)) from None


def _url(*schemes: str) -> Rule:
    prefixes = tuple(f"{x}://" for x in schemes)
    expected = f"a URL starting with {' or '.join(schemes)}://"
    return Rule(expected, test=lambda url: url.startswith(prefixes))


def _token(name_key: str, required_if: str | None = None) -> dict[str, Any]:
    """Metadata of a token: read from the environment variable the key `name_key` names (not
    required when the section lists `bots`, each with a token of its own)."""

    def read(context: Context, siblings: Mapping[str, Any]) -> str:
        token = context.env.get(name := siblings[name_key], "")
        if required_if is None or not context.need_tokens or siblings.get("bots"):
            return token
        if siblings[required_if] == bool(token):
            return token
        if token:  # a token for a platform that is off would be ignored without a word
            raise Invalid(required_if, f"true, since {name} is set (or unset {name})")
        raise Invalid(name_key, f"the environment variable {name} to hold the token")

    return source(read)


# The kinds of value, each with its constraint and the words an error uses for it.
Positive = Annotated[float, Rule("a positive number", test=lambda x: x > 0)]
Count = Annotated[int, Rule("a positive integer", test=lambda n: n >= 1)]
Ids = Annotated[frozenset[int], Rule("a list of numeric ids")]
HttpUrl = Annotated[str, _url("http", "https")]
WsUrl = Annotated[str, _url("ws", "wss")]
Slug = Annotated[str, Rule("lowercase letters, digits and '-' (max 32)", test=SLUG_PATTERN.match)]
Colour = Annotated[int, Rule('a colour like "#0057b7"', parse=_colour)]
LinkPreviews = Annotated[
    str, Rule("one of auto, on, off", test=lambda x: x in ("auto", "on", "off"))
]


def _snowflake(raw: Any) -> int:
    """A Discord id, written as a number or a string of digits (YAML keys are often strings)."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(raw)
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**64:
        raise ValueError(raw)
    return int(text)


def _roles_per_guild(raw: Any) -> tuple[tuple[int, int], ...]:
    if not isinstance(raw, dict):
        raise Refused("roles belong to one server: map each guild id to its role id")
    try:
        pairs = tuple(sorted((_snowflake(g), _snowflake(r)) for g, r in raw.items()))
    except ValueError as exc:
        raise Refused(f"{exc.args[0]!r} is no numeric id") from None
    guilds = [g for g, _ in pairs]
    if len(set(guilds)) < len(guilds):
        raise Refused("a guild is named twice")
    return pairs


RolesPerGuild = Annotated[
    tuple[tuple[int, int], ...],
    Rule("a mapping of Discord guild (server) id to role id", parse=_roles_per_guild),
]
GuildIds = Annotated[
    tuple[int, ...], Rule("a list of numeric ids", then=lambda ids: tuple(sorted(set(ids))))
]
Port = Annotated[int, Rule("a TCP port number", test=lambda port: 0 <= port <= 65535)]
PlatformDestination = Annotated[
    Destination,
    Rule('platform:chat[:thread], e.g. "telegram:-1001234567890"', parse=_destination),
    Rule(f"a platform among {', '.join(PLATFORMS)}", test=lambda d: d.platform in PLATFORMS),
]
Language = Annotated[
    str, Rule(f"a language among {', '.join(LANGUAGES)}", test=lambda lang: lang in LANGUAGES)
]
TopicSlugs = Annotated[tuple[str, ...], Rule("a non-empty list of topic slugs", test=bool)]


@dataclass(frozen=True)
class TopicConfig:
    """A topic editors publish to and chats subscribe to."""

    slug: Slug
    title: str = field(metadata=default_from(lambda t: t["slug"].replace("-", " ").title()))
    description: str = ""
    color: Colour = 0x5865F2
    hashtag: str = ""
    silent: bool = False
    pin_breaking: bool = False
    link_previews: LinkPreviews = "auto"
    breaking_roles: RolesPerGuild = ()
    language: Language = DEFAULT_LANGUAGE  # of its labels (a catalogue of relay/locale)
    template: Template = field(default_factory=Template)

    RETIRED_KEYS: ClassVar[dict[str, str]] = {
        "breaking_role_id": "no longer read, since a role belongs to one server: write "
        "breaking_roles, a mapping of Discord guild id to role id, e.g. "
        "{123456789012345678: 234567890123456789}",
    }

    def __post_init__(self) -> None:  # the labels the template leaves out, in the language
        labels = self.template.labels.in_language(self.language)
        object.__setattr__(self, "template", replace(self.template, labels=labels))

    def breaking_role(self, guild_id: int | None) -> int | None:
        """The role to ping on breaking news in guild `guild_id`, if the topic names one."""
        return next((role for guild, role in self.breaking_roles if guild == guild_id), None)


@dataclass(frozen=True)
class Editors:
    """Who may publish, edit and delete."""

    telegram_users: Ids = frozenset()
    discord_users: Ids = frozenset()
    discord_roles: Ids = frozenset()


@dataclass(frozen=True)
class ChannelConfig:
    """A destination that receives its topics with no command."""

    destination: PlatformDestination
    topics: TopicSlugs
    bot: OptionalBotName = None  # the platform's bot that delivers here (None: its first)


@dataclass(frozen=True)
class TelegramConfig:
    """The Telegram bot."""

    enabled: bool = False
    token_env: str = "TELEGRAM_TOKEN"
    bots: TelegramBots = ()  # several bots (relay.bot_settings); else the one of token_env
    token: str = field(default="", repr=False, metadata=_token("token_env", "enabled"))
    api_url: HttpUrl = "https://api.telegram.org/bot"
    budgets: TelegramBudgets = field(default_factory=TelegramBudgets)
    mode: Mode = "polling"  # or "webhook": Telegram posts updates to telegram.webhook.url
    webhook: WebhookConfig = field(default_factory=WebhookConfig)


@dataclass(frozen=True)
class DiscordConfig:
    """The Discord bot."""

    enabled: bool = False
    token_env: str = "DISCORD_TOKEN"
    bots: DiscordBots = ()  # several bots (relay.bot_settings); else the one of token_env
    token: str = field(default="", repr=False, metadata=_token("token_env", "enabled"))
    api_url: HttpUrl = "https://discord.com/api/v10"
    gateway_url: WsUrl = "wss://gateway.discord.gg/"
    command_guild_ids: GuildIds = ()
    budgets: DiscordBudgets = field(default_factory=DiscordBudgets)


@dataclass(frozen=True)
class ApiConfig:
    """The HTTP ingest, health and metrics server."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 8080
    token_env: str = "RELAY_API_TOKEN"
    token: str = field(default="", repr=False, metadata=_token("token_env"))
    allow_unauthenticated: bool = False  # serve beyond loopback with no token: say so here
    ready_max_lag: Positive = 30.0  # /readyz: seconds the oldest unfanned update may wait


@dataclass(frozen=True)
class ConsoleConfig:
    """The dry-run destination: prints what would be sent."""

    enabled: bool = True


@dataclass(frozen=True)
class DispatcherConfig:
    """How the dispatcher reads, retries and gives up."""

    max_attempts: Count = 5
    claim_idle_seconds: Positive = 10.0
    batch_size: Count = 500
    ledger_ttl_days: Positive = 7.0
    grace_seconds: Positive = 10.0
    concurrency: Count = 64
    lease_seconds: Positive = 5.0
    digest_threshold: Count = 10


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything the relay needs, validated. A section left out takes its defaults."""

    path: str = field(metadata=source(lambda context, _: context.file))
    redis: RedisConfig = field(default_factory=RedisConfig)
    topics: Annotated[tuple[TopicConfig, ...], Rule("a non-empty list of topics", test=bool)]
    editors: Editors = Editors()
    channels: Annotated[tuple[ChannelConfig, ...], Rule("a list of {destination, topics}")] = ()
    telegram: TelegramConfig = TelegramConfig()
    discord: DiscordConfig = DiscordConfig()
    api: ApiConfig = ApiConfig()
    console: ConsoleConfig = ConsoleConfig()
    dispatcher: DispatcherConfig = DispatcherConfig()
    logging: logs.LoggingConfig = field(default_factory=logs.LoggingConfig)
    feeds: Annotated[tuple[FeedConfig, ...], Rule("a list of {url, topic}")] = ()
    desk: desk_settings.DeskConfig = field(default_factory=desk_settings.DeskConfig)
    media: MediaConfig = field(default_factory=MediaConfig)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret the config holds, for masking in logs."""
        found = [self.telegram.token, self.discord.token, self.api.token]
        found += [b.token for b in self.telegram.bots] + [b.token for b in self.discord.bots]
        found.append(self.telegram.webhook.secret_token)
        url = self.redis.url or ""
        if "@" in url:  # redis://user:password@host
            credentials = url.split("://", 1)[-1].rsplit("@", 1)[0]
            found.append(credentials.split(":", 1)[-1])
        return tuple(x for x in found if x)

    def topic(self, slug: str) -> TopicConfig | None:
        return next((t for t in self.topics if t.slug == slug), None)

    @property
    def topic_slugs(self) -> tuple[str, ...]:
        return tuple(t.slug for t in self.topics)


def load(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    need_tokens: bool = True,
) -> Config:
    """Load and validate the config from `path`, `$RELAY_CONFIG`, with secrets from `env`.

    With `need_tokens=False` (a command that only writes to Redis) an enabled platform's
    token may be missing from the environment.
    """
    env = os.environ if env is None else env
    file = str(path or env.get("RELAY_CONFIG") or "")
    if not file:
        raise ConfigError(
            "(no file)", "--config", "a config file: pass --config or set RELAY_CONFIG"
        )
    data = yamlfile.load(file)  # a regular UTF-8 file, bounded in size, aliases and depth
    return parse(data, file, env, need_tokens=need_tokens)


def parse(data: Any, file: str, env: Mapping[str, str], *, need_tokens: bool = True) -> Config:
    """Build a `Config` from already-loaded YAML data."""
    config = build(Config, data, Context(file, env, need_tokens))
    _check_across_keys(config)
    redis_settings.check(config.path, config.redis)
    telegram_settings.check(config.path, config.telegram, config.api.enabled, need_tokens)
    feed_settings.check(config.path, config.feeds, config.topic_slugs)
    desk_settings.check(config.path, config.desk, config.api.enabled)
    sections: dict[str, bot_settings.Section] = {"telegram": config.telegram,
                                                 "discord": config.discord}  # fmt: skip
    bot_settings.check(config.path, sections, config.channels, need_tokens)
    return config


def _check_across_keys(config: Config) -> None:
    """The rules no single key can check: unique slugs, known topics, enabled platforms."""
    slugs: set[str] = set()
    for i, topic in enumerate(config.topics):
        if topic.slug in slugs:
            expected = f"a unique slug; {topic.slug!r} appears twice"
            raise ConfigError(config.path, f"topics[{i}].slug", expected)
        slugs.add(topic.slug)
    for i, channel in enumerate(config.channels):
        for slug in channel.topics:
            if slug not in slugs:
                expected = f"configured topic slugs, got unknown {slug!r}"
                raise ConfigError(config.path, f"channels[{i}].topics", expected)
    enabled = {"telegram": config.telegram.enabled, "discord": config.discord.enabled,
               "console": config.console.enabled}  # fmt: skip
    for i, channel in enumerate(config.channels):
        platform = channel.destination.platform
        if not enabled[platform]:
            raise ConfigError(
                config.path, f"channels[{i}].destination", f"{platform}.enabled: true"
            )
