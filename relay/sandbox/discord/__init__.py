"""A local Discord (REST API v10 + gateway) that a real discord.py client talks to over loopback."""

from __future__ import annotations

from relay.sandbox.discord.control import BotInfo, Control
from relay.sandbox.discord.faults import FaultRates
from relay.sandbox.discord.invoke import InteractionHandle, InteractionResult
from relay.sandbox.discord.ratelimit import BucketLimit, DiscordLimits
from relay.sandbox.discord.server import DiscordSandbox
from relay.sandbox.discord.transcript import MessageView, RequestRecord, TranscriptEvent

__all__ = [
    "BotInfo",
    "BucketLimit",
    "Control",
    "DiscordLimits",
    "DiscordSandbox",
    "FaultRates",
    "InteractionHandle",
    "InteractionResult",
    "MessageView",
    "RequestRecord",
    "TranscriptEvent",
]
