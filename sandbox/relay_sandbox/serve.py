"""`relay sandbox`: both emulators on loopback ports, with a bot and a channel ready to use."""

from __future__ import annotations

import asyncio
import gc
import os
from dataclasses import dataclass
from typing import Any, TextIO

from relay_sandbox.discord.server import DiscordSandbox
from relay_sandbox.telegram.server import TelegramSandbox


@dataclass(frozen=True)
class SandboxInfo:
    """Where the emulators listen and the ready-made accounts, for a config file."""

    telegram_api_url: str
    telegram_token: str
    telegram_channel_id: int
    discord_api_url: str
    discord_gateway_url: str
    discord_token: str
    discord_channel_id: int

    def describe(self) -> str:
        return "\n".join(
            [
                "live-relay sandbox: local Telegram Bot API and Discord emulators",
                f"  Telegram Bot API   {self.telegram_api_url}<token>/<method>",
                f"  Discord REST       {self.discord_api_url}",
                f"  Discord gateway    {self.discord_gateway_url}",
                "",
                "Point the relay at them (tokens are the sandbox's own, not secrets):",
                f"  export TELEGRAM_TOKEN={self.telegram_token}",
                f"  export DISCORD_TOKEN={self.discord_token}",
                "  telegram:",
                "    enabled: true",
                f"    api_url: {self.telegram_api_url}",
                "  discord:",
                "    enabled: true",
                f"    api_url: {self.discord_api_url}",
                f"    gateway_url: {self.discord_gateway_url}",
                "  channels:",
                f"    - destination: telegram:{self.telegram_channel_id}",
                "      topics: [<your topic>]",
                f"    - destination: discord:{self.discord_channel_id}",
                "      topics: [<your topic>]",
                "",
                "Control APIs: /_sandbox/telegram/… and /_sandbox/discord/… on the same ports.",
            ]
        )


def provision(telegram: TelegramSandbox, discord: DiscordSandbox) -> SandboxInfo:
    """Create a Telegram bot with a channel it administers, and a Discord bot in a guild."""
    tg = telegram.control
    bot = tg.create_bot("live_relay_bot", first_name="Live Relay")
    channel = tg.create_chat("channel", "Sandbox live", username="sandbox_live")
    tg.add_bot(channel.id, bot)
    dc = discord.control
    app = dc.create_application("live-relay")
    guild = dc.create_guild("Sandbox newsroom")
    text = dc.create_channel(guild, "live-updates")
    dc.invite_bot(app.application_id, guild)
    return SandboxInfo(
        telegram_api_url=telegram.base_url,
        telegram_token=bot.token,
        telegram_channel_id=channel.id,
        discord_api_url=discord.api_base,
        discord_gateway_url=discord.gateway_url,
        discord_token=app.token,
        discord_channel_id=text,
    )


def short_collector_pauses() -> None:
    """Keep the garbage collector from stopping the emulators for long.

    The platforms count requests as they arrive at their edge; an emulator that stops for a
    collection reads the requests queued meanwhile in one burst and counts them together. Its
    request log and message store grow with every call, so a full collection over them took
    100 ms and more in a 20,000-chat run, and the burst after it broke the paid broadcast window
    (37-69 × 429 a run; 0-4 with the collector off). After each collection of the older
    generations the survivors are frozen (`gc.freeze`): records are scanned once or twice, not
    at every full collection. Frozen objects are still freed when nothing refers to them; only
    a reference cycle alive at such a collection is never collected (an emulator keeps its
    records for its whole life anyway).
    """

    def freeze(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation", 0) >= 1:
            gc.freeze()

    if not any(getattr(cb, "__qualname__", "") == freeze.__qualname__ for cb in gc.callbacks):
        gc.callbacks.append(freeze)


async def serve(
    stop: asyncio.Event,
    out: TextIO,
    host: str = "127.0.0.1",
    telegram_port: int = 8081,
    discord_port: int = 8082,
) -> SandboxInfo:
    """Run both emulators until `stop` is set; print how to use them."""
    short_collector_pauses()
    # A benchmark of more sends than the request log keeps (100,000) raises it.
    log_size = int(os.environ.get("RELAY_SANDBOX_REQUEST_LOG") or 100_000)
    telegram, discord = TelegramSandbox(request_log_size=log_size), DiscordSandbox()
    try:
        await telegram.start(host, telegram_port)
        await discord.start(host, discord_port)
        info = provision(telegram, discord)
        out.write(info.describe() + "\n")
        out.flush()
        await stop.wait()
    finally:
        await discord.aclose()
        await telegram.aclose()
    return info
