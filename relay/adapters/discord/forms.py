"""The editor's form (a modal): topic, headline, body, link and image URL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

from relay.changes import UNSET, Changes
from relay.model import MAX_HEADLINE, Image, Update

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

    def changes(self, current: Update) -> Changes:
        """The edit of `current` this submitted form asks for: only what the editor changed.

        A field left as prefilled stays as it is, so a body longer than the form can show is
        not cut to `BODY_MAX`, and a photo keeps its caption and credit; an emptied link or
        image field removes the link or the photo; a new image URL is a new photo, without the
        old caption and credit. Raises `InvalidUpdate` naming a bad field.
        """
        shown = _prefill(current)
        headline, body = self.headline.value.strip(), self.body.value.strip()
        link, image = self.link.value.strip(), self.image.value.strip()
        return Changes(
            headline=headline if headline != shown.headline else UNSET,
            body=body if body != shown.body else UNSET,
            link=link if link != shown.link else UNSET,
            image=(Image(image) if image else None) if image != shown.image else UNSET,
        )


@dataclass(frozen=True)
class _Shown:
    """What the edit form shows of an update, as its fields read back when left untouched."""

    headline: str
    body: str
    link: str
    image: str


def _prefill(current: Update) -> _Shown:
    return _Shown(
        headline=current.headline.strip(),
        body=current.body[:BODY_MAX].strip(),
        link=current.link or "",
        image=current.image.url if current.image else "",
    )
