"""The demo's sandbox world (bots, chats, channels, people) and the config that points at it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relay import config as config_mod
from relay.config import Config
from relay_sandbox.demo.content import TOPICS
from relay_sandbox.discord import DiscordSandbox, InteractionResult
from relay_sandbox.telegram.server import TelegramSandbox

log = logging.getLogger(__name__)
ALL_TOPICS = [str(t["slug"]) for t in TOPICS]


@dataclass(frozen=True)
class Pane:
    """One chat or channel shown on the page, and how it came to receive topics."""

    platform: str  # "telegram" or "discord"
    chat_id: str
    title: str
    kind: str  # channel, supergroup, private (Telegram); text (Discord)
    note: str

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.chat_id}"


@dataclass(frozen=True)
class TelegramWorld:
    """The Telegram side: the bot, a channel, a group and a reader's private chat."""

    token: str
    bot_id: int
    bot_name: str
    channel_id: int
    group_id: int
    group_admin_id: int
    reader_id: int
    editor_id: int


@dataclass(frozen=True)
class DiscordWorld:
    """The Discord side: the application, the guild and two text channels."""

    token: str
    application_id: int
    guild_id: int
    live_id: int
    hall_id: int
    moderator_id: int
    editor_id: int


@dataclass(frozen=True)
class World:
    """Everything the demo created in the sandboxes."""

    telegram: TelegramWorld
    discord: DiscordWorld | None

    def panes(self) -> tuple[Pane, ...]:
        tg = self.telegram
        panes = [
            Pane("telegram", str(tg.channel_id), "Kessel Bay Live", "channel",
                 "channel · all topics, from the config file"),
            Pane("telegram", str(tg.group_id), "East quarter neighbours", "supergroup",
                 "group · Ines typed /subscribe storm transit"),
            Pane("telegram", str(tg.reader_id), "Mira ↔ @" + tg.bot_name, "private",
                 "private chat · Mira typed /subscribe storm"),
        ]  # fmt: skip
        dc = self.discord
        if dc is not None:
            panes += [
                Pane("discord", str(dc.live_id), "live-updates", "text",
                     "Kessel Newsroom · all topics, from the config file"),
                Pane("discord", str(dc.hall_id), "city-hall", "text",
                     "Kessel Newsroom · Dana ran /subscribe council, /subscribe transit"),
            ]  # fmt: skip
        return tuple(panes)


def provision(telegram: TelegramSandbox, discord: DiscordSandbox | None) -> World:
    """Create the bots, chats, channels and people of the demo."""
    tg = telegram.control
    bot = tg.create_bot("kessel_live_bot", first_name="Kessel Live")
    owner = tg.create_user("Kessel Bay Desk", username="kesseldesk")
    channel = tg.create_chat("channel", "Kessel Bay Live", username="kesselbaylive",
                             creator=owner.id)  # fmt: skip
    tg.add_bot(channel.id, bot)
    ines = tg.create_user("Ines", username="ines_east")
    group = tg.create_chat("supergroup", "East quarter neighbours", creator=ines.id)
    tg.add_bot(group.id, bot)
    mira = tg.create_user("Mira", username="mira_k")
    editor = tg.create_user("Noor", username="noor_editor")
    telegram_world = TelegramWorld(
        token=bot.token, bot_id=bot.id, bot_name="kessel_live_bot", channel_id=channel.id,
        group_id=group.id, group_admin_id=ines.id, reader_id=mira.id, editor_id=editor.id,
    )  # fmt: skip
    discord_world = None
    if discord is not None:
        dc = discord.control
        app = dc.create_application("Kessel Live")
        dana = dc.create_user("Dana")
        guild = dc.create_guild("Kessel Newsroom", owner_id=dana)
        live = dc.create_channel(guild, "live-updates", topic="Everything the desk publishes")
        hall = dc.create_channel(guild, "city-hall", topic="Council and transit")
        dc.invite_bot(app.application_id, guild)
        noor = dc.add_member(guild, name="Noor")
        discord_world = DiscordWorld(
            token=app.token, application_id=app.application_id, guild_id=guild, live_id=live,
            hall_id=hall, moderator_id=dana, editor_id=noor,
        )  # fmt: skip
    return World(telegram_world, discord_world)


def build_config(
    world: World, telegram: TelegramSandbox, discord: DiscordSandbox | None, data_dir: Path,
    *, fast: bool = False,
) -> Config:  # fmt: skip
    """The relay's config: the sandboxes' URLs and tokens, the topics, the config channels.

    `fast` (tests) lifts the relay's budgets so updates are not spaced out for readability.
    """
    tg, dc = world.telegram, world.discord
    channels: list[dict[str, Any]] = [
        {"destination": f"telegram:{tg.channel_id}", "topics": ALL_TOPICS}
    ]
    data: dict[str, Any] = {
        "redis": {"data_dir": str(data_dir)},
        "topics": [dict(t) for t in TOPICS],
        "editors": {"telegram_users": [tg.editor_id]},
        "channels": channels,
        "console": {"enabled": False},
        "telegram": {"enabled": True, "api_url": telegram.base_url},
        "api": {"enabled": False},  # the demo serves the API itself, on the page's port
        "dispatcher": {"claim_idle_seconds": 2, "grace_seconds": 3},
    }
    env = {"TELEGRAM_TOKEN": tg.token}
    if fast:
        data["telegram"]["budgets"] = {"per_chat_per_second": 50, "per_group_per_minute": 3000}
    if dc is not None and discord is not None:
        channels.append({"destination": f"discord:{dc.live_id}", "topics": ALL_TOPICS})
        data["editors"]["discord_users"] = [dc.editor_id]
        data["discord"] = {
            "enabled": True, "api_url": discord.api_base, "gateway_url": discord.gateway_url,
            "command_guild_ids": [dc.guild_id],
        }  # fmt: skip
        if fast:
            data["discord"]["budgets"] = {"per_channel": 50}
        env["DISCORD_TOKEN"] = dc.token
    return config_mod.parse(data, "(relay demo)", env)


async def _reply_in(telegram: TelegramSandbox, chat_id: int, bot: int, after: int) -> str:
    """Wait for the bot's answer in a chat (a message newer than `after`)."""
    async with asyncio.timeout(15):
        while True:
            for m in reversed(telegram.control.transcript(chat_id, bot=bot)):
                if m.message_id > after and m.sender_id == bot:
                    return m.content
            await asyncio.sleep(0.05)


def _answer(result: InteractionResult) -> str:
    return result.original.content if result.original is not None else ""


def _answered(result: InteractionResult) -> bool:
    original = result.original
    # A deferred answer ("thinking…") is edited in later: wait for that edit.
    return original is not None and (result.response_type != 5 or original.edited_at is not None)


async def subscribe_as_users(
    world: World, telegram: TelegramSandbox, discord: DiscordSandbox | None
) -> list[str]:
    """Readers and admins subscribe by typing the commands; returns what they saw as answers."""
    tg, control = world.telegram, telegram.control
    said = control.send_message(tg.group_admin_id, "/subscribe storm transit", chat_id=tg.group_id)
    answers = [await _reply_in(telegram, tg.group_id, tg.bot_id, said.message_id)]
    said = control.send_message(tg.reader_id, "/subscribe storm", bot=tg.bot_id)
    answers.append(await _reply_in(telegram, tg.reader_id, tg.bot_id, said.message_id))
    dc = world.discord
    if dc is not None and discord is not None:
        for topic in ("council", "transit"):
            handle = discord.control.invoke(
                dc.application_id, dc.guild_id, dc.hall_id, dc.moderator_id, "subscribe",
                {"topic": topic},
            )  # fmt: skip
            answers.append(_answer(await handle.wait(_answered, within=15)))
    for answer in answers:
        log.info("subscription answer: %s", answer)
    return answers
