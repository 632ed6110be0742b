"""The one typed configuration object, built once from the YAML file and the environment.

Only this module reads `os.environ`. Secrets (tokens, a Redis URL with a password) never appear
in a `repr` or an error message. Every error names the file, the key and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from relay.errors import ConfigError, InvalidUpdate
from relay.model import SLUG_PATTERN, Destination

T = TypeVar("T")
DEFAULT_DATA_DIR = Path("~/.local/share/live-relay").expanduser()
PLATFORMS = ("telegram", "discord", "console")


@dataclass(frozen=True)
class TopicConfig:
    """A topic editors publish to and chats subscribe to."""

    slug: str
    title: str
    description: str = ""
    color: int = 0x5865F2
    hashtag: str = ""
    silent: bool = False
    pin_breaking: bool = False
    link_previews: str = "auto"
    breaking_role_id: int | None = None


@dataclass(frozen=True)
class Editors:
    """Who may publish, edit and delete."""

    telegram_users: frozenset[int] = frozenset()
    discord_users: frozenset[int] = frozenset()
    discord_roles: frozenset[int] = frozenset()


@dataclass(frozen=True)
class ChannelConfig:
    """A destination that receives its topics with no command."""

    destination: Destination
    topics: tuple[str, ...]


@dataclass(frozen=True)
class RedisConfig:
    """Where the data lives: a Redis/Valkey URL, or the embedded Valkey's data directory."""

    url: str | None = field(default=None, repr=False)
    data_dir: Path = DEFAULT_DATA_DIR
    stream_maxlen: int = 100_000
    key_prefix: str = "relay"


@dataclass(frozen=True)
class TelegramBudgets:
    """Telegram's flood limits per bot token (paid broadcast raises the global one)."""

    global_per_second: float = 30.0
    per_chat_per_second: float = 1.0
    per_group_per_minute: float = 20.0
    paid_broadcast: bool = False


@dataclass(frozen=True)
class TelegramConfig:
    """The Telegram bot."""

    enabled: bool = False
    token_env: str = "TELEGRAM_TOKEN"
    token: str = field(default="", repr=False)
    api_url: str = "https://api.telegram.org/bot"
    budgets: TelegramBudgets = TelegramBudgets()


@dataclass(frozen=True)
class DiscordBudgets:
    """Discord's limits per bot token: global requests and the per-channel message bucket."""

    global_per_second: float = 50.0
    per_channel: int = 5
    per_channel_seconds: float = 5.0
    max_ratelimit_wait: float = 30.0


@dataclass(frozen=True)
class DiscordConfig:
    """The Discord bot."""

    enabled: bool = False
    token_env: str = "DISCORD_TOKEN"
    token: str = field(default="", repr=False)
    api_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    command_guild_ids: tuple[int, ...] = ()
    budgets: DiscordBudgets = DiscordBudgets()


@dataclass(frozen=True)
class ApiConfig:
    """The HTTP ingest, health and metrics server."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    token_env: str = "RELAY_API_TOKEN"
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class ConsoleConfig:
    """The dry-run destination: prints what would be sent."""

    enabled: bool = True


@dataclass(frozen=True)
class DispatcherConfig:
    """How the dispatcher reads, retries and gives up."""

    max_attempts: int = 5
    claim_idle_seconds: float = 10.0
    batch_size: int = 500
    ledger_ttl_days: float = 7.0
    grace_seconds: float = 10.0
    concurrency: int = 64
    lease_seconds: float = 5.0
    digest_threshold: int = 10


@dataclass(frozen=True)
class Config:
    """Everything the relay needs, validated."""

    path: str
    redis: RedisConfig
    topics: tuple[TopicConfig, ...]
    editors: Editors
    channels: tuple[ChannelConfig, ...]
    telegram: TelegramConfig
    discord: DiscordConfig
    api: ApiConfig
    console: ConsoleConfig
    dispatcher: DispatcherConfig

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret the config holds, for masking in logs."""
        found = [self.telegram.token, self.discord.token, self.api.token]
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


class _Section:
    """Reads one mapping of the YAML file, tracking the key path for error messages."""

    def __init__(self, file: str, path: str, data: Any) -> None:
        self.file = file
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(file, path or "(top level)", "a mapping of keys to values")
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, expected: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), expected)

    def raw(self, name: str) -> Any:
        self.seen.add(name)
        return self.data.get(name)

    def typed(self, name: str, kind: type[T], default: T, expected: str) -> T:
        value = self.raw(name)
        if value is None:
            return default
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.error(name, f"{expected}, got {value!r}")
        return value

    def string(self, name: str, default: str = "") -> str:
        return self.typed(name, str, default, "a string")

    def boolean(self, name: str, default: bool) -> bool:
        return self.typed(name, bool, default, "true or false")

    def positive(self, name: str, default: float) -> float:
        value = self.typed(name, float, default, "a positive number")
        if value <= 0:
            raise self.error(name, f"a positive number, got {value!r}")
        return value

    def count(self, name: str, default: int) -> int:
        value = self.typed(name, int, default, "a positive integer")
        if value < 1:
            raise self.error(name, f"a positive integer, got {value!r}")
        return value

    def ids(self, name: str) -> frozenset[int]:
        value = self.raw(name) or []
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise self.error(name, f"a list of numeric ids, got {value!r}")
        return frozenset(value)

    def sub(self, name: str) -> _Section:
        return _Section(self.file, self.key(name), self.raw(name))

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            allowed = ", ".join(sorted(self.seen))
            raise self.error(str(unknown[0]), f"unknown key (allowed here: {allowed})")


def _color(section: _Section, name: str, default: int) -> int:
    value = section.raw(name)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFF:
        return value
    if isinstance(value, str) and len(value) == 7 and value.startswith("#"):
        try:
            return int(value[1:], 16)
        except ValueError:
            pass
    raise section.error(name, f'a colour like "#0057b7", got {value!r}')


def _topics(root: _Section) -> tuple[TopicConfig, ...]:
    items = root.raw("topics")
    if not isinstance(items, list) or not items:
        raise root.error("topics", "a non-empty list of topics")
    topics: list[TopicConfig] = []
    for i, item in enumerate(items):
        s = _Section(root.file, f"topics[{i}]", item)
        slug = s.string("slug")
        if not SLUG_PATTERN.match(slug):
            raise s.error("slug", f"lowercase letters, digits and '-' (max 32), got {slug!r}")
        if any(t.slug == slug for t in topics):
            raise s.error("slug", f"a unique slug; {slug!r} appears twice")
        previews = s.string("link_previews", "auto")
        if previews not in ("auto", "on", "off"):
            raise s.error("link_previews", f"one of auto, on, off, got {previews!r}")
        role = s.raw("breaking_role_id")
        if role is not None and (not isinstance(role, int) or isinstance(role, bool)):
            raise s.error("breaking_role_id", f"a numeric Discord role id, got {role!r}")
        topics.append(
            TopicConfig(
                slug=slug,
                title=s.string("title", slug.replace("-", " ").title()),
                description=s.string("description"),
                color=_color(s, "color", 0x5865F2),
                hashtag=s.string("hashtag"),
                silent=s.boolean("silent", False),
                pin_breaking=s.boolean("pin_breaking", False),
                link_previews=previews,
                breaking_role_id=role,
            )
        )
        s.done()
    return tuple(topics)


def _channels(root: _Section, slugs: set[str]) -> tuple[ChannelConfig, ...]:
    items = root.raw("channels") or []
    if not isinstance(items, list):
        raise root.error("channels", "a list of {destination, topics}")
    out: list[ChannelConfig] = []
    for i, item in enumerate(items):
        s = _Section(root.file, f"channels[{i}]", item)
        try:
            dest = Destination.parse(s.string("destination"))
        except InvalidUpdate:
            raise s.error(
                "destination", 'platform:chat[:thread], e.g. "telegram:-1001234567890"'
            ) from None
        if dest.platform not in PLATFORMS:
            raise s.error("destination", f"a platform among {', '.join(PLATFORMS)}")
        topics = s.raw("topics")
        if not isinstance(topics, list) or not topics:
            raise s.error("topics", "a non-empty list of topic slugs")
        for t in topics:
            if t not in slugs:
                raise s.error("topics", f"configured topic slugs, got unknown {t!r}")
        s.done()
        out.append(ChannelConfig(dest, tuple(topics)))
    return tuple(out)


def _token(
    s: _Section, env: Mapping[str, str], default_env: str, required: bool
) -> tuple[str, str]:
    token_env = s.string("token_env", default_env)
    token = env.get(token_env, "")
    if required and not token:
        raise s.error("token_env", f"the environment variable {token_env} to hold the token")
    return token_env, token


def _url(s: _Section, name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = s.string(name, default)
    if not value.startswith(tuple(f"{x}://" for x in schemes)):
        raise s.error(name, f"a URL starting with {' or '.join(schemes)}://, got {value!r}")
    return value


def _telegram(root: _Section, env: Mapping[str, str]) -> TelegramConfig:
    s = root.sub("telegram")
    enabled = s.boolean("enabled", False)
    token_env, token = _token(s, env, "TELEGRAM_TOKEN", enabled)
    b = s.sub("budgets")
    budgets = TelegramBudgets(
        global_per_second=b.positive("global_per_second", 30.0),
        per_chat_per_second=b.positive("per_chat_per_second", 1.0),
        per_group_per_minute=b.positive("per_group_per_minute", 20.0),
        paid_broadcast=b.boolean("paid_broadcast", False),
    )
    b.done()
    cfg = TelegramConfig(
        enabled=enabled,
        token_env=token_env,
        token=token,
        api_url=_url(s, "api_url", TelegramConfig.api_url, ("http", "https")),
        budgets=budgets,
    )
    s.done()
    return cfg


def _discord(root: _Section, env: Mapping[str, str]) -> DiscordConfig:
    s = root.sub("discord")
    enabled = s.boolean("enabled", False)
    token_env, token = _token(s, env, "DISCORD_TOKEN", enabled)
    b = s.sub("budgets")
    budgets = DiscordBudgets(
        global_per_second=b.positive("global_per_second", 50.0),
        per_channel=b.count("per_channel", 5),
        per_channel_seconds=b.positive("per_channel_seconds", 5.0),
        max_ratelimit_wait=b.positive("max_ratelimit_wait", 30.0),
    )
    b.done()
    cfg = DiscordConfig(
        enabled=enabled,
        token_env=token_env,
        token=token,
        api_url=_url(s, "api_url", DiscordConfig.api_url, ("http", "https")),
        gateway_url=_url(s, "gateway_url", DiscordConfig.gateway_url, ("ws", "wss")),
        command_guild_ids=tuple(sorted(s.ids("command_guild_ids"))),
        budgets=budgets,
    )
    s.done()
    return cfg


def _section(root: _Section, name: str, build: Callable[[_Section], T]) -> T:
    s = root.sub(name)
    value = build(s)
    s.done()
    return value


def load(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load and validate the config from `path`, `$RELAY_CONFIG`, with secrets from `env`."""
    env = os.environ if env is None else env
    file = str(path or env.get("RELAY_CONFIG") or "")
    if not file:
        raise ConfigError(
            "(no file)", "--config", "a config file: pass --config or set RELAY_CONFIG"
        )
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, "(file)", f"a readable YAML file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(file, where, f"valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse(data, file, env)


def parse(data: Any, file: str, env: Mapping[str, str]) -> Config:
    """Build a `Config` from already-loaded YAML data."""
    root = _Section(file, "", data)
    topics = _topics(root)
    slugs = {t.slug for t in topics}

    def redis(s: _Section) -> RedisConfig:
        url = env.get("REDIS_URL") or s.string("url") or None
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise s.error("url", "a redis://, rediss:// or unix:// URL (or REDIS_URL)")
        data_dir = Path(s.string("data_dir", str(DEFAULT_DATA_DIR))).expanduser()
        return RedisConfig(
            url=url,
            data_dir=data_dir,
            stream_maxlen=s.count("stream_maxlen", 100_000),
            key_prefix=s.string("key_prefix", "relay") or "relay",
        )

    def editors(s: _Section) -> Editors:
        return Editors(s.ids("telegram_users"), s.ids("discord_users"), s.ids("discord_roles"))

    def api(s: _Section) -> ApiConfig:
        enabled = s.boolean("enabled", True)
        port = s.typed("port", int, 8080, "a TCP port number")
        if not 0 <= port <= 65535:
            raise s.error("port", f"a TCP port number, got {port}")
        token_env, token = _token(s, env, "RELAY_API_TOKEN", False)
        return ApiConfig(enabled, s.string("host", "127.0.0.1"), port, token_env, token)

    def dispatcher(s: _Section) -> DispatcherConfig:
        return DispatcherConfig(
            max_attempts=s.count("max_attempts", 5),
            claim_idle_seconds=s.positive("claim_idle_seconds", 10.0),
            batch_size=s.count("batch_size", 500),
            ledger_ttl_days=s.positive("ledger_ttl_days", 7.0),
            grace_seconds=s.positive("grace_seconds", 10.0),
            concurrency=s.count("concurrency", 64),
            lease_seconds=s.positive("lease_seconds", 5.0),
            digest_threshold=s.count("digest_threshold", 10),
        )

    config = Config(
        path=file,
        redis=_section(root, "redis", redis),
        topics=topics,
        editors=_section(root, "editors", editors),
        channels=_channels(root, slugs),
        telegram=_telegram(root, env),
        discord=_discord(root, env),
        api=_section(root, "api", api),
        console=_section(root, "console", lambda s: ConsoleConfig(s.boolean("enabled", True))),
        dispatcher=_section(root, "dispatcher", dispatcher),
    )
    root.done()
    enabled = {"telegram": config.telegram.enabled, "discord": config.discord.enabled,
               "console": config.console.enabled}  # fmt: skip
    for i, ch in enumerate(config.channels):
        if not enabled[ch.destination.platform]:
            raise ConfigError(
                file, f"channels[{i}].destination", f"{ch.destination.platform}.enabled: true"
            )
    return config
