"""A local Discord (REST API v10 + gateway) that a real discord.py client talks to over loopback."""

from __future__ import annotations

from relay_sandbox.discord.control import BotInfo, Control
from relay_sandbox.discord.faults import FaultRates
from relay_sandbox.discord.invoke import InteractionHandle, InteractionResult
from relay_sandbox.discord.ratelimit import BucketLimit, DiscordLimits
from relay_sandbox.discord.server import DiscordSandbox
from relay_sandbox.discord.transcript import MessageView, RequestRecord, TranscriptEvent

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
