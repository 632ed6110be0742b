"""How command text is read: the bot's name, a remote chat, nothing else."""

from __future__ import annotations

from relay.adapters.telegram.adapter import file_url
from relay.adapters.telegram.delivery import FILE_URL, chat_ref, photo_ref
from relay.adapters.telegram.handlers import parse_command, split_target


def test_parse_command() -> None:
    assert parse_command("/subscribe ukraine", "relay_bot") == ("subscribe", "ukraine")
    assert parse_command("/Subscribe@Relay_Bot ukraine", "relay_bot") == ("subscribe", "ukraine")
    assert parse_command("/post ukraine Head\nBody", "relay_bot") == ("post", "ukraine Head\nBody")
    assert parse_command("/subscribe@other_bot ukraine", "relay_bot") is None
    assert parse_command("hello /subscribe", "relay_bot") is None
    assert parse_command("/subscribe-now", "relay_bot") is None


def test_split_target() -> None:
    assert split_target("ukraine @newsch") == ("ukraine", "@newsch")
    assert split_target("ukraine climate -1001234567") == ("ukraine climate", "-1001234567")
    assert split_target("ukraine") == ("ukraine", None)
    assert split_target("@newsch") == ("", "@newsch")


def test_ids_and_urls() -> None:
    assert chat_ref("-100123") == -100123 and chat_ref("42") == 42 and chat_ref("@ch") == "@ch"
    assert photo_ref(FILE_URL + "AgACabc") == "AgACabc"
    assert photo_ref("https://img.example/p.jpg") == "https://img.example/p.jpg"
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
