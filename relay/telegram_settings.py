"""The `telegram` sections besides the bot itself: its budgets, and webhook mode.

`relay.config.TelegramConfig` holds these: `budgets`, `mode` (`polling`, the default, or
`webhook`) and `webhook`. The webhook secret is read from the environment variable
`webhook.secret_token_env` names, never from the file, and checked against Telegram's rule for
it (16-256 of `A-Z a-z 0-9 _ -`) when the config loads. `check` holds the rules that span
sections: webhook mode needs a URL, the secret (for a command that talks to Telegram) and the
HTTP server (`api.enabled`) that serves the route.
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit

from relay.errors import ConfigError
from relay.settings import Context, Invalid, Rule, source

MODES = ("polling", "webhook")
SECRET_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
WEBHOOK_PORTS = (443, 80, 88, 8443)  # the only ports Telegram posts to (any on loopback)


def loopback(host: str) -> bool:
    """Whether `host` names this machine (a webhook there may be plain HTTP, as in local mode)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _webhook_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # a bad port or IPv6 address
        return False
    if not host:
        return False
    if loopback(host):
        return parts.scheme in ("http", "https")
    return parts.scheme == "https" and (port or 443) in WEBHOOK_PORTS


MIN_SECRET = 16  # Telegram takes 1; a shorter secret is guessable, and too short to mask in logs


def valid_secret(secret: str) -> bool:
    """Telegram's rule for `secret_token` (1-256 characters among A-Z, a-z, 0-9, _ and -), with
    at least `MIN_SECRET` of them."""
    return MIN_SECRET <= len(secret) <= 256 and set(secret) <= SECRET_CHARS


def _secret(context: Context, siblings: Mapping[str, Any]) -> str:
    name = siblings["secret_token_env"]
    secret = context.env.get(name, "")
    if secret and not valid_secret(secret):  # never shown: it is a secret
        expected = (f"the environment variable {name} to hold {MIN_SECRET}-256 characters among "
                    "A-Z, a-z, 0-9, _ and - (Telegram's rule for a webhook secret token, and no "
                    "fewer than a guess would take), e.g. from `openssl rand -hex 32`")  # fmt: skip
        raise Invalid("secret_token_env", expected)
    return secret


Positive = Annotated[float, Rule("a positive number", test=lambda x: x > 0)]
Mode = Annotated[str, Rule("one of polling, webhook", test=lambda mode: mode in MODES)]
WebhookUrl = Annotated[
    str | None,
    Rule(
        "an https:// URL on port 443, 80, 88 or 8443 (http:// only on loopback)",
        test=_webhook_url,
        blank=True,
    ),
]
RoutePath = Annotated[
    str, Rule('a path starting with "/"', test=lambda p: p.startswith("/") and p.isprintable())
]
Connections = Annotated[int, Rule("an integer from 1 to 100", test=lambda n: 1 <= n <= 100)]


@dataclass(frozen=True)
class TelegramBudgets:
    """Telegram's flood limits per bot token (paid broadcast raises the global one)."""

    global_per_second: Positive = 30.0
    per_chat_per_second: Positive = 1.0
    per_group_per_minute: Positive = 20.0
    paid_broadcast: bool = False


@dataclass(frozen=True)
class WebhookConfig:
    """Where Telegram posts updates in webhook mode, and how the relay sets the webhook."""

    url: WebhookUrl = None  # the public URL Telegram posts to (a reverse proxy's, say)
    # Out of the repr with the secret: a dump of the config shows no "SECRET" at all.
    secret_token_env: str = field(default="TELEGRAM_WEBHOOK_SECRET", repr=False)
    secret_token: str = field(default="", repr=False, metadata=source(_secret))
    path: RoutePath = "/telegram/webhook"  # the route on the relay's HTTP server (api)
    max_connections: Connections = 40
    drop_pending_updates: bool = False


class Telegram(Protocol):
    """`relay.config.TelegramConfig`, as `check` reads it."""

    @property
    def enabled(self) -> bool: ...
    @property
    def mode(self) -> str: ...
    @property
    def webhook(self) -> WebhookConfig: ...


def check(file: str, tg: Telegram, api_enabled: bool, need_tokens: bool) -> None:
    """Webhook mode's needs across sections (nothing to check in polling mode)."""
    if not tg.enabled or tg.mode != "webhook":
        return
    if tg.webhook.url is None:
        expected = "the public https:// URL Telegram posts updates to (required in webhook mode)"
        raise ConfigError(file, "telegram.webhook.url", expected)
    if need_tokens and not tg.webhook.secret_token:
        name = tg.webhook.secret_token_env
        expected = f"the environment variable {name} to hold the webhook secret (webhook mode)"
        raise ConfigError(file, "telegram.webhook.secret_token_env", expected)
    if not api_enabled:
        expected = "true in webhook mode: the API's HTTP server serves the webhook route"
        raise ConfigError(file, "api.enabled", expected)
