"""The editor's form (a modal): topic, headline, body, link and image URL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from relay.model import MAX_HEADLINE, Update

BODY_MAX = 4000  # Discord's limit for a text input


class UpdateForm(discord.ui.Modal):
    """A form for /post, /preview (with a topic field) and /edit (prefilled, no topic)."""

    def __init__(
        self,
        *,
        title: str,
        custom_id: str,
        on_submit: Callable[[discord.Interaction, UpdateForm], Awaitable[None]],
        topic: str | None = None,
        with_topic: bool = True,
        current: Update | None = None,
        timeout: float = 900.0,
    ) -> None:
        super().__init__(title=title, custom_id=custom_id, timeout=timeout)
        self._on_submit = on_submit
        self.topic: discord.ui.TextInput[UpdateForm] | None = None
        if with_topic:
            self.topic = discord.ui.TextInput(
                label="Topic", custom_id="topic", default=topic, max_length=32
            )
            self.add_item(self.topic)
        self.headline: discord.ui.TextInput[UpdateForm] = discord.ui.TextInput(
            label="Headline", custom_id="headline", max_length=MAX_HEADLINE,
            default=current.headline if current else None,
        )  # fmt: skip
        self.body: discord.ui.TextInput[UpdateForm] = discord.ui.TextInput(
            label="Body", custom_id="body", style=discord.TextStyle.paragraph, required=False,
            max_length=BODY_MAX, default=current.body[:BODY_MAX] if current else None,
        )  # fmt: skip
        self.link: discord.ui.TextInput[UpdateForm] = discord.ui.TextInput(
            label="Link (Read more)", custom_id="link", required=False, max_length=2048,
            default=current.link if current and current.link else None,
        )  # fmt: skip
        self.image: discord.ui.TextInput[UpdateForm] = discord.ui.TextInput(
            label="Image URL", custom_id="image", required=False, max_length=2048,
            default=current.image.url if current and current.image else None,
        )  # fmt: skip
        for item in (self.headline, self.body, self.link, self.image):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._on_submit(interaction, self)
