"""Body validation: Discord's nested 50035 error shapes for the table's fields and extra rules."""

from __future__ import annotations

from typing import Any

import pytest
from relay_sandbox.discord import errors
from relay_sandbox.discord.endpoints import (
    CALLBACK_DATA_FIELDS,
    CALLBACK_FIELDS,
    COMMANDS_FIELDS,
    CREATE_MESSAGE_FIELDS,
    WEBHOOK_EXECUTE_FIELDS,
)
from relay_sandbox.discord.validate import embed_text_total, is_empty_message, validate


def _errors(body: Any, fields: Any, **kw: Any) -> dict[str, Any]:
    with pytest.raises(errors.ApiError) as exc:
        validate(body, fields, **kw)
    assert (exc.value.status, exc.value.code, exc.value.message) == (
        400,
        50035,
        "Invalid Form Body",
    )
    assert exc.value.errors is not None
    return exc.value.errors


def _err(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def test_nested_paths_for_embed_fields() -> None:
    body = {"embeds": [{"title": "ok"}, {"fields": [{"name": "n", "value": "v" * 1025}]}]}
    assert _errors(body, CREATE_MESSAGE_FIELDS, message=True) == {
        "embeds": {
            "1": {
                "fields": {
                    "0": {"value": _err("BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length.")}
                }
            }
        }
    }


def test_types_required_and_min_lengths() -> None:
    assert _errors({"content": 5, "tts": "yes"}, CREATE_MESSAGE_FIELDS, message=True) == {
        "content": _err("BASE_TYPE_STRING", "Must be a string."),
        "tts": _err("BASE_TYPE_BOOLEAN", "Must be either true or false."),
    }
    assert _errors([{"description": "d"}, {"name": ""}], COMMANDS_FIELDS, message=False) == {
        "0": {"name": _err("BASE_TYPE_REQUIRED", "This field is required")},
        "1": {"name": _err("BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.")},
    }
    assert _errors({"username": ""}, WEBHOOK_EXECUTE_FIELDS, message=True) == {
        "username": _err("BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.")
    }


def test_interaction_data_errors_are_nested_under_data() -> None:
    assert CALLBACK_FIELDS[0].path == "type"
    got = _errors({"content": "x" * 2001}, CALLBACK_DATA_FIELDS, message=True, prefix=("data",))
    assert got == {
        "data": {"content": _err("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")}
    }


def test_embed_total_counts_trimmed_text_of_every_embed() -> None:
    embeds = [
        {"title": "  abc  ", "description": "d" * 10, "footer": {"text": "f"}},
        {"author": {"name": "a" * 5}, "fields": [{"name": "n", "value": "vv"}]},
    ]
    assert embed_text_total(embeds) == 3 + 10 + 1 + 5 + 1 + 2
    exactly = [{"description": "d" * 4096}, {"description": "d" * 1904}]
    validate({"embeds": exactly}, CREATE_MESSAGE_FIELDS, message=True)
    over = [{"description": "d" * 4096}, {"description": "d" * 1905}]
    assert _errors({"embeds": over}, CREATE_MESSAGE_FIELDS, message=True) == {
        "embeds": _err("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    }


def test_allowed_mentions_parse_and_list_are_exclusive() -> None:
    body = {"content": "<@1>", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}
    got = _errors(body, CREATE_MESSAGE_FIELDS, message=True)
    assert (
        got["allowed_mentions"]["_errors"][0]["code"] == "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"
    )


def test_empty_messages() -> None:
    assert is_empty_message({"content": "   "})
    assert is_empty_message({"content": "", "embeds": []})
    assert not is_empty_message({"embeds": [{"title": "t"}]})
    assert not is_empty_message({}, has_files=True)
