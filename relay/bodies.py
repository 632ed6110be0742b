"""Reading a request's JSON object, as the HTTP API and the desk both do.

The body must arrive within the app's read timeout (`READ_TIMEOUT_KEY`), be UTF-8 JSON (no NaN,
no lone surrogate) and hold an object; else `InvalidUpdate("body")` (or the string's path).
"""

from __future__ import annotations

import asyncio
import codecs
import json
from typing import Any

from aiohttp import web

from relay.errors import InvalidUpdate

JSON_CHARSETS = ("utf-8", "ascii")  # JSON is UTF-8 (RFC 8259); ASCII is a subset
READ_TIMEOUT_KEY: web.AppKey[float] = web.AppKey("read_timeout")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unicode_error(data: Any) -> str | None:
    """The path of the first string (key or value) in `data` that is not valid Unicode text.

    JSON may escape a lone surrogate (`"\\ud800"`), which no UTF-8 encoder accepts later.
    """
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return path or "body"
        elif isinstance(value, dict):
            for key, item in value.items():
                stack += [(path or "body", key), (f"{path}.{key}" if path else key, item)]
        elif isinstance(value, list):
            stack += [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    return None


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, read within the read timeout; else `InvalidUpdate("body")`."""
    charset = request.charset
    if charset is not None and _codec(charset) not in JSON_CHARSETS:
        raise web.HTTPUnsupportedMediaType(reason=f"charset must be utf-8, not {charset!r}")
    try:
        async with asyncio.timeout(request.app[READ_TIMEOUT_KEY]):
            raw = await request.read()
    except TimeoutError:
        raise web.HTTPRequestTimeout(reason="the request body did not arrive in time") from None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise InvalidUpdate("body", "must be UTF-8 encoded JSON") from None
    except RecursionError:
        raise InvalidUpdate("body", "must be a JSON object nested less deeply") from None
    except ValueError as exc:  # bad JSON, NaN, an integer of more than 4,300 digits
        raise InvalidUpdate("body", f"must be a JSON object ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidUpdate("body", "must be a JSON object")
    if (path := _unicode_error(data)) is not None:
        raise InvalidUpdate(path, "must be valid Unicode text (a lone surrogate)")
    return data


def _codec(charset: str) -> str:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "unknown"
