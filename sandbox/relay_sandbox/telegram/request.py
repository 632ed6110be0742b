"""Read a Bot API call from any body PTB or a script may send, and check it against the table."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from relay_sandbox.telegram.errors import bad_request
from relay_sandbox.telegram.methods import Method, Param

_SCALARS = frozenset({"Integer", "String", "Boolean", "Float", "InputFile"})
_INT = re.compile(r"-?\d+")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})

# Descriptions the real server gives for the most common missing parameters.
_MISSING = {
    "text": "message text is empty",
    "chat_id": "chat_id is empty",
    "message_id": "message identifier is not specified",
    "photo": "there is no photo in the request",
}


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart body."""

    part: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ApiCall:
    """A validated call: coerced parameters plus the uploaded files by part name."""

    method: Method
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)


async def read_body(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Raw parameters (query string merged with the body) and uploaded files."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.method != "POST" or not request.can_read_body:
        return raw, files
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise bad_request("can't parse JSON encoded request") from exc
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON encoded request")
        raw.update(body)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = UploadedFile(
                    key, value.filename, value.content_type, value.file.read()
                )
            else:
                raw[key] = value
    return raw, files


def validate(
    method: Method, raw: dict[str, Any], files: dict[str, UploadedFile], *, strict: bool
) -> ApiCall:
    """Coerce ``raw`` to the table's types; refuse unknown, missing and mistyped parameters."""
    params: dict[str, Any] = {}
    for name, value in raw.items():
        param = method.param(name)
        if param is None:
            if strict:
                raise bad_request(f'parameter "{name}" is unknown')
            continue
        params[name] = coerce(param, value)
    for name, upload in files.items():
        param = method.param(name)
        if param is not None and "InputFile" in param.types:
            params[name] = upload
        elif strict and not _nested_attach(raw, name):
            raise bad_request(f'parameter "{name}" is unknown')
    for param in method.params:
        if param.required and params.get(param.name) in (None, ""):
            raise bad_request(_MISSING.get(param.name, f'parameter "{param.name}" is required'))
    return ApiCall(method, params, files)


def _strings(values: Any) -> list[str]:
    return [v for v in values if isinstance(v, str)]


def _nested_attach(raw: dict[str, Any], part: str) -> bool:
    # sendMediaGroup names its uploads inside the JSON-encoded ``media`` array.
    needle = f"attach://{part}"
    return any(needle in v for v in _strings(raw.values()))


def coerce(param: Param, value: Any) -> Any:
    """The value converted to the first of the parameter's types it fits."""
    for kind in param.types:
        ok, converted = _convert(kind, value)
        if ok:
            return converted
    if any(t not in _SCALARS for t in param.types):
        readable = param.name.replace("_", " ")
        raise bad_request(f"can't parse {readable} JSON object")
    raise bad_request(f'parameter "{param.name}" must be of type {" or ".join(param.types)}')


def _convert(kind: str, value: Any) -> tuple[bool, Any]:
    if kind == "Integer":
        if isinstance(value, bool):
            return False, None
        if isinstance(value, int):
            return True, value
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            return True, int(value)
        return False, None
    if kind == "Float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, float(value)
        try:
            return True, float(value)
        except (TypeError, ValueError):
            return False, None
    if kind == "Boolean":
        if isinstance(value, bool):
            return True, value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return True, text in _TRUE
        return False, None
    if kind == "String":
        if isinstance(value, str):
            return True, value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, str(value)
        return False, None
    if kind == "InputFile":
        return isinstance(value, UploadedFile), value
    decoded = _decode_json(value)
    if kind.startswith("Array of "):
        if not isinstance(decoded, list):
            return False, None
        inner = kind[len("Array of ") :]
        items = []
        for item in decoded:
            ok, converted = _convert(inner, item)
            if not ok:
                return False, None
            items.append(converted)
        return True, items
    return (True, decoded) if isinstance(decoded, dict) else (False, None)


def _decode_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


__all__ = ["ApiCall", "UploadedFile", "coerce", "read_body", "validate"]
