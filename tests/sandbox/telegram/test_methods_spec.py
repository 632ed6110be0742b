"""The sandbox's method table matches the official Bot API spec for every served method."""

from __future__ import annotations

import json
from typing import Any

import pytest
from relay_sandbox.telegram.methods import METHODS, lookup
from relay_sandbox.telegram.server import HANDLERS

from .conftest import SPECS


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with (SPECS / "telegram" / "bot-api-spec.api.json").open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@pytest.mark.parametrize("name", sorted(m.name for m in METHODS.values()))
def test_method_matches_spec(spec: dict[str, Any], name: str) -> None:
    fields = spec["methods"][name].get("fields", [])
    expected = [(f["name"], tuple(f["types"]), f["required"]) for f in fields]
    actual = [(p.name, p.types, p.required) for p in METHODS[name.lower()].params]
    assert actual == expected


def test_every_brief_method_is_served() -> None:
    wanted = {
        "getMe", "logOut", "close", "setWebhook", "deleteWebhook", "getWebhookInfo", "getUpdates",
        "setMyCommands", "getMyCommands", "deleteMyCommands",
        "getChat", "getChatMember", "getChatAdministrators", "getFile",
        "sendMessage", "sendPhoto", "sendMediaGroup", "editMessageText", "editMessageCaption",
        "editMessageMedia",
        "deleteMessage", "pinChatMessage", "unpinChatMessage", "answerCallbackQuery",
    }  # fmt: skip
    assert sorted(HANDLERS) == sorted(n.lower() for n in wanted)
    assert sorted(METHODS) == sorted(HANDLERS)


def test_lookup_is_case_insensitive() -> None:
    method = lookup("SENDmessage")
    assert method is not None and method.name == "sendMessage"
    assert lookup("sendMessages") is None
