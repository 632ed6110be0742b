"""Logging for the `relay` command: one format, quiet request logs, and secrets masked everywhere.

Only the CLI calls this (STYLE: logging is configured by the CLI alone). The mask works on the
*formatted* line, so a secret inside an exception's traceback or a library's message is masked
too, and it also covers what Python itself prints for an uncaught exception.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from types import TracebackType

MASK = "***"
MIN_SECRET = 6  # shorter values (an empty token, "x" in a test) would mask ordinary words

# Libraries that log one line per HTTP request, with the Bot API URL (which holds the Telegram
# token) in it: at INFO that was 1,866 of 2,159 lines of one run. WARNING unless --verbose.
CHATTY = ("httpx", "httpcore", "telegram.ext.ExtBot", "discord.http", "aiohttp.access")

_secrets: list[str] = []


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


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    import traceback

    sys.stderr.write(mask("".join(traceback.format_exception(kind, exc, tb))))


def setup(verbose: bool = False) -> None:
    """Log to stderr, one line per event, with the mask on every root handler."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr)
    formatter = MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    if not verbose:
        for name in CHATTY:
            logging.getLogger(name).setLevel(logging.WARNING)
    sys.excepthook = _excepthook


def add_secrets(secrets: Iterable[str]) -> None:
    """Mask these values from now on, in every line any handler formats."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET and secret not in _secrets:
            _secrets.append(secret)
    _secrets.sort(key=len, reverse=True)  # a secret containing another is masked whole
