"""Logging for the `relay` command: text or JSON lines, quiet libraries, and secrets masked.

Only the CLI calls this (STYLE: logging is configured by the CLI alone): `setup` at start, then
`apply` once the config (its `logging` section and its secrets) is read. The mask works on the
*formatted* line, so a secret inside an exception's traceback or a library's message is masked
too, and it also covers what Python itself prints for an uncaught exception. Expected outages a
library reports with a traceback (discord.py's gateway reconnects) become one warning line.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Annotated, Any

from relay.settings import Rule

MASK = "***"
MIN_SECRET = 6  # shorter values (an empty token, "x" in a test) would mask ordinary words
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = ("update", "dest", "attempt", "worker")  # `extra=` keys a JSON line carries as fields
LEVELS = ("debug", "info", "warning", "error")

# Libraries that log one line per HTTP request, with the Bot API URL (which holds the Telegram
# token) in it: at INFO that was 1,866 of 2,159 lines of one run. WARNING unless --verbose.
CHATTY = ("httpx", "httpcore", "telegram.ext.ExtBot", "discord.http", "aiohttp.access")

_secrets: list[str] = []
_verbose = False

Format = Annotated[str, Rule("text or json", test=lambda x: x in ("text", "json"))]
Level = Annotated[str, Rule(", ".join(LEVELS), test=lambda x: x in LEVELS)]


@dataclass(frozen=True)
class LoggingConfig:
    """How `relay` logs to stderr (`--verbose` means level debug)."""

    format: Format = "text"
    level: Level = "info"


def mask(text: str) -> str:
    """`text` with every known secret replaced by `***`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class MaskingFormatter(logging.Formatter):
    """Formats as usual (message, traceback, stack), then masks the whole line."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the id fields, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value if isinstance(value, int | float) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # Masked before encoding too: a secret JSON escapes would slip past the mask afterwards.
        masked = {k: mask(v) if isinstance(v, str) else v for k, v in line.items()}
        return mask(json.dumps(masked, ensure_ascii=False))


# Lines libraries log with a traceback for an outage the relay expects, as one warning instead.
ONE_LINE = {
    # discord.py's gateway reconnect (the gateway unreachable or gone).
    "Attempting a reconnect in %.2fs": "discord gateway unreachable (%s); reconnecting in %.2fs",
    # PTB at stop, when the Bot API is unreachable: its last getUpdates marks updates read.
    "Error while calling `get_updates` one more time to mark all fetched updates. Suppressing "
    "error to ensure graceful shutdown. When polling for updates is restarted, updates may be "
    "fetched again. Please adjust timeouts via `ApplicationBuilder` or the parameter "
    "`get_updates_request` of `Bot`.": "telegram: the last commands were not marked read at "
    "stop (%s); they may come again at the next start",
}
# discord.py's notice at every start: the relay has no voice.
SILENCED = (
    "PyNaCl is not installed, voice will NOT be supported",
    "davey is not installed, voice will NOT be supported",
)
QUIETED = ("discord.client", "telegram.ext.Updater")  # the loggers of the lines above


class ExpectedOutages(logging.Filter):
    """Drops the `SILENCED` lines; makes each `ONE_LINE` line one warning, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in SILENCED:
            return False
        if record.msg in ONE_LINE and record.exc_info:
            exc = record.exc_info[1]
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            record.msg = ONE_LINE[record.msg]
            record.args = (why, *(record.args or ()))
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    import traceback

    sys.stderr.write(mask("".join(traceback.format_exception(kind, exc, tb))))


def setup(verbose: bool = False) -> None:
    """Log to stderr, one text line per event, with the mask on every root handler."""
    global _verbose
    _verbose = verbose
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(MaskingFormatter(TEXT_FORMAT))
    if not verbose:
        for name in CHATTY:
            logging.getLogger(name).setLevel(logging.WARNING)
    for name in QUIETED:
        quieted = logging.getLogger(name)
        if not any(isinstance(f, ExpectedOutages) for f in quieted.filters):
            quieted.addFilter(ExpectedOutages())
    sys.excepthook = _excepthook


def apply(secrets: Iterable[str], settings: LoggingConfig) -> None:
    """What a loaded config says: its secrets masked, its `logging` format and level."""
    add_secrets(secrets)
    formatter = JsonFormatter() if settings.format == "json" else MaskingFormatter(TEXT_FORMAT)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setFormatter(formatter)
    root.setLevel(logging.DEBUG if _verbose else settings.level.upper())


def add_secrets(secrets: Iterable[str]) -> None:
    """Mask these values from now on, in every line any handler formats."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET and secret not in _secrets:
            _secrets.append(secret)
    _secrets.sort(key=len, reverse=True)  # a secret containing another is masked whole
