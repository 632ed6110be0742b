"""The README stays true: its commands, variables and invite URL match the code."""

from __future__ import annotations

import re

import discord

from relay import config as config_mod
from relay.cli import _parser

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_first_commands_are_the_two_a_newcomer_needs() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split()[0:2] for line in first_block.strip().splitlines()] == [
        ["./dev", "demo"],
        ["./dev", "test"],
    ]
    dev = (ROOT / "dev").read_text()
    assert "demo)" in dev and "test)" in dev and "run)" in dev
    assert "exec ./dev test" in (ROOT / ".ci" / "run").read_text()


def test_every_cli_subcommand_is_documented() -> None:
    subparsers = next(a for a in _parser()._actions if a.dest == "cmd")
    for name in subparsers.choices:  # type: ignore[union-attr]
        assert f"`relay {name}" in README, name


def test_every_environment_variable_is_documented() -> None:
    cfg = config_mod.load(ROOT / "config" / "relay.example.yaml", env={})
    names = {"RELAY_CONFIG", "REDIS_URL", cfg.telegram.token_env, cfg.discord.token_env,
             cfg.api.token_env}  # fmt: skip
    for name in names:
        assert f"| `{name}` |" in README, name


def test_discord_invite_url_asks_for_the_permissions_listed() -> None:
    value = int(re.search(r"permissions=(\d+)", README).group(1))  # type: ignore[union-attr]
    wanted = discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        embed_links=True,
        attach_files=True,  # a photo with no public URL is uploaded
    )
    assert value == wanted.value
