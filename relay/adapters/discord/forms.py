"""The editor's form (a modal): topic, headline, body, link and photo.

Discord's forms hold at most 5 inputs of at most 4,000 characters each. /post and /preview show
topic, headline, body, link and photo; /edit shows the update as it is now, without the topic.
The photo is one field of lines: its URL, then the credit, then the caption (which may run on
over several lines), so caption and credit are there to see and change. A /post with a photo
attached (`photo:` option, a file) takes the topic from its option and shows headline, body,
link, and the photo's caption and credit as fields of their own. A body longer than an
input holds is not shown at all (a text in its place says so) and stays as it is: a cut body in
the form would cut the update the moment the editor changed a word of it.
The labels are in the editor's language (the language of the moment: relay.i18n).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

from relay.changes import UNSET, Changes
from relay.i18n import N_, _
from relay.model import MAX_CAPTION, MAX_CREDIT, MAX_HEADLINE, Image, Update, parse_image

BODY_MAX = 4000  # Discord's limit for a text input
PHOTO_LABEL = N_("Photo: URL, credit, caption (one per line)")  # at most 45 characters
PHOTO_HINT = N_("https://…/photo.jpg, then the credit, then the caption. Empty: no photo.")


def photo_text(image: Image | None) -> str:
    """A photo as the form shows it: URL, credit and caption, one per line."""
    if image is None:
        return ""
    return f"{image.url}\n{image.credit}\n{image.caption}".rstrip()


def parse_photo(text: str) -> Image | None:
    """The photo the form's field describes (None: no photo); raises `InvalidUpdate`."""
    url, _, rest = text.strip().partition("\n")
    credit, _, caption = rest.partition("\n")
    if not url.strip() and not rest.strip():
        return None
    return parse_image(Image(url.strip(), caption.strip(), credit.strip()))


def long_body_note(body: str) -> str:
    return _(
        "The body ({length} characters) is longer than a form holds ({limit}): it is not "
        "shown here and stays exactly as it is. To change it, edit the update over the HTTP "
        "API (PATCH /v1/updates/<id>) or with /edit on Telegram."
    ).format(length=f"{len(body):,}", limit=f"{BODY_MAX:,}")


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
        attached: bool = False,
    ) -> None:
        super().__init__(title=title, custom_id=custom_id, timeout=timeout)
        self._on_submit = on_submit
        self.topic: discord.ui.TextInput[UpdateForm] | None = None
        if with_topic:
            self.topic = discord.ui.TextInput(
                label=_("Topic"), custom_id="topic", default=topic, max_length=32
            )
            self.add_item(self.topic)
        self.headline: discord.ui.TextInput[UpdateForm] = discord.ui.TextInput(
            label=_("Headline"), custom_id="headline", max_length=MAX_HEADLINE,
            default=current.headline if current else None,
        )  # fmt: skip
        self.add_item(self.headline)
        shown = _prefill(current) if current is not None else None
        self.body: discord.ui.TextInput[UpdateForm] | None = None
        if shown is not None and shown.body is None:  # too long: a note instead of the body
            self.add_item(discord.ui.TextDisplay(long_body_note(current.body if current else "")))
        else:
            self.body = discord.ui.TextInput(
                label=_("Body"), custom_id="body", style=discord.TextStyle.paragraph,
                required=False, max_length=BODY_MAX, default=shown.body if shown else None,
            )  # fmt: skip
            self.add_item(self.body)
        self.link: discord.ui.TextInput[UpdateForm] = discord.ui.TextInput(
            label=_("Link (Read more)"), custom_id="link", required=False, max_length=2048,
            default=current.link if current and current.link else None,
        )  # fmt: skip
        self.add_item(self.link)
        # An attached photo (a file on the command) takes its caption and credit in two fields;
        # else one field gives a photo by URL. Five fields at most: Discord's modal limit.
        self.image: discord.ui.TextInput[UpdateForm] | None = None
        self.caption: discord.ui.TextInput[UpdateForm] | None = None
        self.credit: discord.ui.TextInput[UpdateForm] | None = None
        if attached:  # an /edit shows the current photo's caption and credit to keep or change
            old = current.image if current is not None else None
            caption, credit = (old.caption, old.credit) if old is not None else ("", "")
            self.caption = discord.ui.TextInput(
                label=_("Photo caption"), custom_id="caption", style=discord.TextStyle.paragraph,
                required=False, max_length=MAX_CAPTION, default=caption or None,
            )  # fmt: skip
            self.credit = discord.ui.TextInput(
                label=_("Photo credit"), custom_id="credit", required=False, max_length=MAX_CREDIT,
                default=credit or None,
            )  # fmt: skip
            self.add_item(self.caption)
            self.add_item(self.credit)
        else:
            self.image = discord.ui.TextInput(
                label=_(PHOTO_LABEL), custom_id="image", style=discord.TextStyle.paragraph,
                required=False, max_length=BODY_MAX, placeholder=_(PHOTO_HINT),
                default=(shown.image or None) if shown else None,
            )  # fmt: skip
            self.add_item(self.image)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._on_submit(interaction, self)

    @property
    def body_text(self) -> str:
        return self.body.value.strip() if self.body is not None else ""

    def photo(self) -> Image | None:
        """The photo the submitted form describes; raises `InvalidUpdate` naming a bad part."""
        return parse_photo(self.image.value) if self.image is not None else None

    def caption_and_credit(self) -> tuple[str, str]:
        """An attached photo's caption and credit, as the editor typed them."""
        caption = self.caption.value.strip() if self.caption is not None else ""
        return caption, self.credit.value.strip() if self.credit is not None else ""

    def changes(self, current: Update) -> Changes:
        """The edit of `current` this submitted form asks for: only what the editor changed.

        A field left as prefilled stays as it is (the body, when the form could not show it,
        always does); an emptied link or photo field removes the link or the photo. Raises
        `InvalidUpdate` naming a bad field.
        """
        shown = _prefill(current)
        headline, link = self.headline.value.strip(), self.link.value.strip()
        body = self.body_text
        photo = self.image.value.strip() if self.image is not None else shown.image
        return Changes(
            headline=headline if headline != shown.headline else UNSET,
            body=body if shown.body is not None and body != shown.body else UNSET,
            link=link if link != shown.link else UNSET,
            image=self.photo() if photo != shown.image else UNSET,
        )


@dataclass(frozen=True)
class _Shown:
    """What the edit form shows of an update, as its fields read back when left untouched
    (`body` None: not shown)."""

    headline: str
    body: str | None
    link: str
    image: str


def _prefill(current: Update) -> _Shown:
    body = current.body.strip()
    return _Shown(
        headline=current.headline.strip(),
        body=body if len(body) <= BODY_MAX else None,
        link=current.link or "",
        image=photo_text(current.image).strip(),
    )
