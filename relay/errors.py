"""The relay's exceptions, one tree for every layer.

    RelayError
    ├── ConfigError            the YAML file or the environment is wrong (names file and key)
    ├── InvalidUpdate          an update, command or request field is invalid (names the field)
    ├── UnknownUpdate          an edit or delete names an update id the relay never accepted
    ├── Overloaded             ingest refuses: the backlog passed its bound; retry after a while
    ├── StreamError            Redis / Valkey unreachable or answering unexpectedly
    └── DeliveryError          an adapter could not deliver; carries platform, destination, update
        ├── RateLimited        the platform asked us to wait `retry_after` seconds
        ├── Gone               the destination is gone for good (blocked, kicked, deleted)
        ├── Moved              the destination lives under a new id (Telegram supergroup upgrade)
        ├── Rejected           the platform refused the request as invalid; never retried as is
        └── Transient          a network error or 5xx; retry with backoff

Adapters translate platform exceptions into `DeliveryError` subclasses with `raise … from exc`.
"""

from __future__ import annotations


class RelayError(Exception):
    """Base class of every error the relay raises on purpose."""


class ConfigError(RelayError):
    """The configuration is invalid: `file`, `key` and what was `expected`."""

    def __init__(self, file: str, key: str, expected: str) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        super().__init__(f"{file}: {key}: {expected}")


class InvalidUpdate(RelayError):
    """An update (or a command building one) has an invalid `field`. `message` (English: the
    API's and the logs') may be a template whose `{name}` placeholders `values` fill; marked
    `N_` where it is raised, it is in the catalogues, and `said()` gives it in the language of
    the moment (a chat's reply)."""

    def __init__(self, field: str, message: str, **values: object) -> None:
        self.field = field
        self.template = message
        self.values = values
        self.message = message.format(**values) if values else message
        super().__init__(f"{field}: {self.message}")

    def said(self) -> str:
        from relay.i18n import _  # the catalogues load on first use, not with the errors

        text = _(self.template)
        return text.format(**self.values) if self.values else text


class UnknownUpdate(RelayError):
    """An edit or delete names an update id the relay never accepted."""

    def __init__(self, update_id: str) -> None:
        self.update_id = update_id
        super().__init__(f"unknown update id {update_id!r}")


class Overloaded(RelayError):
    """Ingest refuses an update: `backlog` accepted entries wait to be fanned out (`limit`).

    Accepting more could only grow a backlog the relay may not deliver in time; the caller
    should try again after `retry_after` seconds (HTTP 429/503 with `Retry-After`).
    """

    def __init__(self, retry_after: float, backlog: int, limit: int) -> None:
        self.retry_after = retry_after
        self.backlog = backlog
        self.limit = limit
        super().__init__(
            f"the relay is overloaded: {backlog:,} accepted updates wait to be fanned out "
            f"(limit {limit:,}); retry after {retry_after:g}s"
        )


class StreamError(RelayError):
    """Redis or Valkey is unreachable or misbehaving."""


class DeliveryError(RelayError):
    """An adapter failed to deliver to a destination.

    `sent` holds the message ids a copy has after a multi-part send or an edit failed part way
    (None: the call changed nothing the relay must remember). The relay records them, so the
    retry resumes after them: nothing a reader already saw is deleted and sent again.
    """

    sent: tuple[str, ...] | None = None

    def __init__(
        self,
        message: str,
        *,
        platform: str = "",
        destination: str = "",
        update_id: str = "",
    ) -> None:
        self.platform = platform
        self.destination = destination
        self.update_id = update_id
        super().__init__(message)

    @property
    def reason(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class RateLimited(DeliveryError):
    """The platform asked to wait `retry_after` seconds before the next request.

    `budget_key` names the budget to pause (a `relay.adapter.Budget.key`); None pauses the
    destination's narrowest budget.
    """

    named = True  # the platform said which of its limits it was

    def __init__(
        self, retry_after: float, message: str = "", budget_key: str | None = None, **context: str
    ) -> None:
        self.retry_after = retry_after
        self.budget_key = budget_key
        super().__init__(message or f"rate limited, retry after {retry_after:g}s", **context)


class LimitUnnamed(RateLimited):
    """A 429 that does not say which limit it was (Telegram's): it may have been the bot's own,
    so the bot's shared budgets hold a moment too (`relay.sync.SHARED_HOLD`)."""

    named = False


class Gone(DeliveryError):
    """The destination is gone (blocked, kicked, deleted): unsubscribe, never retry."""


class Moved(DeliveryError):
    """The destination moved to `new_chat_id` (a Telegram group upgraded to a supergroup)."""

    def __init__(self, new_chat_id: str, message: str = "", **context: str) -> None:
        self.new_chat_id = new_chat_id
        super().__init__(message or f"moved to {new_chat_id}", **context)


class Rejected(DeliveryError):
    """The platform refused the request as invalid; retrying it unchanged cannot help."""


class Transient(DeliveryError):
    """A network error or a server error: retry with backoff."""
