"""The Discord adapter's harness: the real discord.py client against the sandbox's REST+gateway."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from relay_sandbox.discord import BotInfo, DiscordLimits, DiscordSandbox, FaultRates
from relay_sandbox.discord import permissions as P
from relay_sandbox.discord.endpoints import CREATE_MESSAGE_FIELDS
from relay_sandbox.discord.validate import EMBED_TOTAL_MAX, embed_text_total, validate
from relay_sandbox.discord.wiring import pointed_at

from relay.adapter import AdapterContext
from relay.adapters.discord import DiscordAdapter
from relay.config import Config, DiscordConfig
from relay.model import Destination
from tests.adapters.contract import (
    IDEMPOTENT_SEND,
    MOVED,
    RETRY_AFTER,
    Fault,
    Harness,
    Op,
    Shown,
)

ENDPOINTS: dict[Op, str] = {"send": "create_message", "edit": "edit_message",
                            "delete": "delete_message"}  # fmt: skip


def dest(channel_id: int) -> Destination:
    return Destination("discord", str(channel_id))


class DiscordHarness(Harness):
    """Text channels of a guild the bot was invited to; faults scripted per endpoint."""

    name = "discord"
    capabilities: ClassVar[frozenset[str]] = frozenset({IDEMPOTENT_SEND})
    lacks: ClassVar[Mapping[str, str]] = {
        MOVED: "a Discord channel keeps its id for life; there is nothing to re-key"
    }

    def __init__(
        self, sandbox: DiscordSandbox, bot: BotInfo, guild: int, adapter: DiscordAdapter
    ) -> None:
        self.sandbox = sandbox
        self.bot = bot
        self.guild = guild
        self.adapter = adapter
        self._names = itertools.count(1)

    @classmethod
    @asynccontextmanager
    async def running(
        cls, *, make_config: Callable[..., Config], **_: Any
    ) -> AsyncIterator[DiscordHarness]:
        async with DiscordSandbox(limits=DiscordLimits.off()) as sandbox:
            with pointed_at(sandbox.api_base, sandbox.gateway_url):
                c = sandbox.control
                bot = c.create_application("relay-bot")
                guild = c.create_guild("Newsroom")
                c.invite_bot(bot.application_id, guild)
                settings = DiscordConfig(enabled=True, token=bot.token, api_url=sandbox.api_base,
                                         gateway_url=sandbox.gateway_url)  # fmt: skip
                config = dataclasses.replace(make_config(), discord=settings)
                adapter = DiscordAdapter(config, guild_ready_timeout=0.05)
                await adapter.start(AdapterContext())
                try:
                    yield cls(sandbox, bot, guild, adapter)
                finally:
                    await adapter.aclose()

    def _channel(self, guild: int | None = None) -> int:
        return self.sandbox.control.create_channel(guild or self.guild, f"ch-{next(self._names)}")

    async def destination(self) -> Destination:
        return dest(self._channel())

    async def gone(self) -> list[tuple[str, Destination]]:
        c = self.sandbox.control
        deleted, hidden = self._channel(), self._channel()
        c.delete_channel(deleted)
        c.set_overwrite(hidden, self.guild, deny=P.VIEW_CHANNEL)  # @everyone, the bot with it
        other = c.create_guild("Elsewhere")
        c.invite_bot(self.bot.application_id, other)
        kicked = self._channel(other)
        c.remove_bot(self.bot.application_id, other)
        return [("deleted", dest(deleted)), ("hidden", dest(hidden)), ("kicked", dest(kicked))]

    def inject(self, fault: Fault, op: Op, dest: Destination) -> None:
        c, endpoint, channel = self.sandbox.control, ENDPOINTS[op], int(dest.chat_id)
        if fault == "rate_limited":
            c.fail_next(endpoint, status=429, retry_after=RETRY_AFTER, channel_id=channel)
        elif fault == "rejected":
            c.fail_next(endpoint, status=400, code=50035, message="Invalid Form Body",
                        channel_id=channel)  # fmt: skip
        elif fault == "server_error":
            # 503: discord.py retries 500/502/504 itself before giving up
            c.fail_next(
                endpoint, status=503, message="503: Service Unavailable", channel_id=channel
            )
        else:
            c.set_faults(FaultRates(drop=1.0))  # every REST request, until heal()

    def rejection(self, op: Op) -> str:
        return "discord 400 code 50035: Invalid Form Body"

    def heal(self) -> None:
        self.sandbox.control.clear_faults()

    def lose_next_answer(self, dest: Destination) -> None:
        self.sandbox.control.lose_next_answer("create_message", channel_id=int(dest.chat_id))

    def shown(self, dest: Destination) -> list[Shown]:
        out = []
        for view in self.sandbox.control.transcript(int(dest.chat_id), include_deleted=False):
            texts = [view.content]
            for e in view.embeds:
                author, footer = e.get("author", {}), e.get("footer", {})
                texts += [author.get("name", ""), e.get("title", ""), e.get("description", ""),
                          footer.get("text", "")]  # fmt: skip
            out.append(Shown(str(view.id), "\n".join(t for t in texts if t)))
        return out

    def photos(self, dest: Destination) -> list[str]:
        views = self.sandbox.control.transcript(int(dest.chat_id), include_deleted=False)
        return [e["image"]["url"] for v in views for e in v.embeds if "image" in e]

    def check_part(self, part: Any) -> None:
        # Discord's own validation (50035 Invalid Form Body), as the sandbox applies it
        validate({**part, "nonce": "n" * 25, "enforce_nonce": True}, CREATE_MESSAGE_FIELDS,
                 message=True)  # fmt: skip
        assert 1 <= len(part["embeds"]) <= 10
        assert embed_text_total(part["embeds"]) <= EMBED_TOTAL_MAX

    def activity(self) -> int:
        return len(self.sandbox.control.requests())
