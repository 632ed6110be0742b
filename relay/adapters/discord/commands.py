"""Slash commands: native interactions translated into `relay.commands` and answered back.

Every answer is ephemeral and comes within Discord's 3-second window: the command runs, and if
it has not finished after `answer_within` seconds (0: always) the interaction is deferred and
the answer edited in later. After a post, edit or delete a follow-up shows the delivery
progress, edited in place every `progress_interval` seconds until the fan-out is done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
from collections.abc import Awaitable
from typing import Any

import discord
from discord import app_commands

from relay.adapter import AdapterContext
from relay.adapters.discord import render as R
from relay.adapters.discord.auth import InteractionAuthority, is_editor, photo_note
from relay.adapters.discord.forms import UpdateForm
from relay.adapters.discord.menus import SettingsMenu
from relay.adapters.discord.speech import FAILED, help_reply, in_language, language
from relay.adapters.discord.translator import CatalogueTranslator
from relay.changes import Changes
from relay.claims import Claims
from relay.commands import ChatKind, Invocation, Reply
from relay.errors import InvalidUpdate
from relay.i18n import N_, _, ngettext, speaking
from relay.media import (
    NEEDS_TOPIC,
    NO_STORE,
    NOT_A_PHOTO,
    NOT_DOWNLOADED,
    MediaRefused,
    file_name,
    media_id,
    ref,
)
from relay.menus import DESCRIPTIONS as MENU_DESCRIPTIONS
from relay.menus import Menus
from relay.model import ID_PATTERN, Destination, Image, check_url, parse_image, signature
from relay.replies import DESCRIPTIONS, editors_only, invalid, no_update

log = logging.getLogger(__name__)
CLAIM_SECONDS = 900  # an interaction token lives 15 minutes
NO_MENTIONS = discord.AllowedMentions.none()


class RelayTree(app_commands.CommandTree[discord.Client]):
    """A command tree that answers an interaction only on the worker that claims it first.

    Every worker's gateway session receives every interaction; without a claim each would
    answer and all but one would fail with 40060 "already acknowledged".
    """

    def __init__(self, client: discord.Client, claims: Claims) -> None:
        super().__init__(client)
        self.claims = claims

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        try:
            claim = self.claims.claim_interaction
            return await claim("discord", str(interaction.id), CLAIM_SECONDS)
        except Exception:  # Redis unreachable: answering twice beats never answering
            log.exception("could not claim interaction=%s", interaction.id)
            return True


class SlashCommands:
    """The application command tree of the bot, bound to the relay's `Commands`."""

    def __init__(
        self,
        client: discord.Client,
        context: AdapterContext,
        *,
        progress_interval: float = 3.0,
        progress_timeout: float = 600.0,
        answer_within: float = 2.0,
        bot_name: str = "",
    ) -> None:
        self.bot_name = bot_name  # which of the relay's bots this is: /subscribe binds to it
        commands, claims = context.commands, context.claims
        registry, subscriptions = context.registry, context.subscriptions
        if commands is None or claims is None or registry is None or subscriptions is None:
            raise ValueError("slash commands need a context with commands (see AdapterContext)")
        self.commands = commands
        self.registry = registry
        self.subscriptions = subscriptions
        self.media = context.media  # an attached photo is kept there (None: refused)
        self.editors = commands.config.editors
        self.progress_interval = progress_interval
        self.progress_timeout = progress_timeout
        self.answer_within = answer_within
        self.tree = RelayTree(client, claims)
        self._tasks: set[asyncio.Task[None]] = set()
        menus = Menus(commands.config, subscriptions, commands.ingest)
        self.settings = SettingsMenu(menus, claims, self.editors, self.open_edit_form)

        async def on_interaction(interaction: discord.Interaction) -> None:
            await self.settings.on_interaction(interaction)  # the tree answers the commands

        client.event(on_interaction)
        _register(self)

    async def sync(self, guild_ids: tuple[int, ...]) -> None:
        """Per guild (instant; for development) when guild ids are configured, else globally;
        with the descriptions in every catalogue's language."""
        if self.tree.translator is None:
            await self.tree.set_translator(CatalogueTranslator())
        if not guild_ids:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))
            return
        for gid in guild_ids:
            guild = discord.Object(gid)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands guild=%s", len(synced), gid)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- translating -------------------------------------------------------------------------------

    def invocation(
        self, interaction: discord.Interaction, command: str, args: str, image: Image | None = None,
        changes: Changes | None = None,
    ) -> Invocation:  # fmt: skip
        kind = ChatKind.GROUP if interaction.guild_id else ChatKind.PRIVATE
        chat = Destination("discord", str(interaction.channel_id))
        user = str(interaction.user.id)
        return Invocation(command, args, chat, kind, user, image=image, changes=changes,
                          author=signature(interaction.user.display_name),
                          bot=self.bot_name, language=language(interaction))  # fmt: skip

    async def run(
        self, interaction: discord.Interaction, command: str, args: str = "", *,
        image: Image | None = None, check_bot: bool = False, changes: Changes | None = None,
        attached: tuple[discord.Attachment, str, str] | None = None,
    ) -> None:  # fmt: skip
        """Handle one command through `relay.commands` and answer it. An `attached` photo
        (file, caption, credit) is kept in the media store first (`keep`); a /preview's is only
        shown with the preview, as the reply's own attachment (`look`)."""
        auth = InteractionAuthority(interaction, self.editors, check_bot=check_bot)
        shown: list[discord.File] = []

        async def work() -> Reply:
            photo = image
            if attached is not None and command == "post":  # a wrong topic: before it is kept
                draft = self.commands.draft(self.invocation(interaction, command, args, None, None))
                if isinstance(draft, Reply):
                    return draft
            if attached is not None:
                try:
                    if command == "preview":
                        photo = await self.look(*attached, shown)
                    else:
                        photo = await self.keep(*attached)
                except MediaRefused as exc:
                    return Reply(exc.said(), ok=False)
                except InvalidUpdate as exc:
                    return Reply(invalid(exc), ok=False)
            edit = changes
            if attached is not None and changes is not None:  # /edit: the new photo
                edit = dataclasses.replace(changes, image=photo)
            inv = self.invocation(interaction, command, args, photo, edit)
            reply = await self.commands.handle(inv, auth)
            if command == "subscribe" and reply.ok and (note := photo_note(interaction)):
                reply = dataclasses.replace(reply, text=f"{reply.text} {note}")
            return reply

        reply = await self.answer(interaction, work(), shown)
        if reply is not None and reply.ok and reply.update is not None and not reply.preview:
            self._spawn(self.follow_progress(interaction, reply.update.id))
            if command == "post":  # for the editor's /recent; a failure costs only that
                try:
                    await self.settings.menus.posted(f"discord:{interaction.user.id}",
                                                     reply.update.id)  # fmt: skip
                except Exception:
                    log.exception("post not remembered for /recent update=%s", reply.update.id)

    @in_language
    async def answer(
        self, interaction: discord.Interaction, work: Awaitable[Reply],
        files: list[discord.File] | None = None,
    ) -> Reply | None:  # fmt: skip
        """Answer with `work`'s reply: at once if it is quick, else defer and edit it in. A
        preview's reply carries `files` (which `work` fills: the photo its embed shows)."""
        task = asyncio.ensure_future(work)  # in the member's language, as this method runs
        deferred = self.answer_within <= 0  # 0: always defer
        if not deferred:
            done, _ = await asyncio.wait({task}, timeout=self.answer_within)
            deferred = task not in done
        if deferred:
            await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            reply = await task
        except Exception:
            log.exception("command failed interaction=%s", interaction.id)
            reply = None
        kwargs = self.reply_kwargs(reply)
        if files and reply is not None and reply.preview:  # an edit takes files as attachments
            kwargs["attachments" if deferred else "files"] = files
        if deferred:
            await interaction.edit_original_response(**kwargs)
        else:
            await interaction.response.send_message(ephemeral=True, **kwargs)
        return reply

    def reply_kwargs(self, reply: Reply | None) -> dict[str, Any]:
        """The message for a reply; a preview shows the update's first message as rendered."""
        if reply is None:
            return {"content": _(FAILED), "allowed_mentions": NO_MENTIONS}
        kwargs: dict[str, Any] = {"content": reply.text[:2000], "allowed_mentions": NO_MENTIONS}
        topic = self.commands.config.topic(reply.update.topic) if reply.update else None
        if reply.preview and reply.update is not None and topic is not None:
            messages = R.render(reply.update, topic)
            kwargs["embeds"] = [discord.Embed.from_dict(e) for e in messages[0]["embeds"]]
            if len(messages) > 1:
                n = len(messages) - 1
                more = ngettext(" (continues in {count} more message)",
                                " (continues in {count} more messages)", n)  # fmt: skip
                kwargs["content"] += more.format(count=n)
        return kwargs

    @in_language
    async def follow_progress(self, interaction: discord.Interaction, update_id: str) -> None:
        """A follow-up with the delivery progress, edited in place until the fan-out is done."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.progress_timeout
        try:
            text, done = await self._progress_text(update_id)
            message = await interaction.followup.send(
                text, ephemeral=True, wait=True, allowed_mentions=NO_MENTIONS
            )
            while not done and loop.time() < deadline:
                await asyncio.sleep(self.progress_interval)
                new, done = await self._progress_text(update_id)
                if new != text:
                    text = new
                    await message.edit(content=text)
        except discord.HTTPException as exc:  # the token expired or the message was dismissed
            log.info("progress follow-up stopped update=%s error=%s", update_id, exc)

    async def _progress_text(self, update_id: str) -> tuple[str, bool]:
        progress = await self.commands.progress(update_id)
        if progress is None:
            return _("Delivery: waiting for the fan-out…"), False
        return _("Delivery: {progress}").format(progress=progress.summary()), progress.done

    async def keep(self, file: discord.Attachment, caption: str, credit: str) -> Image:
        """The photo attached to a command, downloaded once into the media store (its CDN URL
        is signed and expires). Raises `MediaRefused` (the editor's answer) or `InvalidUpdate`."""
        data, image = await self._read_photo(file, caption, credit)
        assert self.media is not None  # read only with a store
        return Image(await self.media.put(data), image.caption, image.credit)

    async def look(
        self, file: discord.Attachment, caption: str, credit: str, shown: list[discord.File]
    ) -> Image:
        """The photo attached to /preview, checked as /post's, added to `shown` (the preview
        reply's attachments, which its embed names) and not kept: nothing is published."""
        data, image = await self._read_photo(file, caption, credit)
        url = ref(media_id(data))  # the URL it would have once kept: the same file name
        shown.append(discord.File(io.BytesIO(data), filename=file_name(url)))
        return Image(url, image.caption, image.credit)

    async def _read_photo(
        self, file: discord.Attachment, caption: str, credit: str
    ) -> tuple[bytes, Image]:
        """The attachment's bytes, once it is a photo within the store's size, and the caption
        and credit checked (in an Image with a placeholder URL)."""
        image = parse_image(Image("https://media.invalid/", caption, credit))  # caption, credit
        assert image is not None  # an Image in, an Image out
        if self.media is None:
            raise MediaRefused(NO_STORE)
        if not (file.content_type or "").startswith("image/"):
            raise MediaRefused(NOT_A_PHOTO)
        self.media.check_size(file.size)
        try:
            return await file.read(), image
        except discord.HTTPException as exc:
            log.warning("attachment download failed: %s", exc)
            raise MediaRefused(NOT_DOWNLOADED) from exc

    # -- editor forms ------------------------------------------------------------------------------

    @in_language
    async def open_form(
        self, interaction: discord.Interaction, command: str, topic: str | None, breaking: bool,
        photo: discord.Attachment | None = None,
    ) -> None:  # fmt: skip
        if not is_editor(interaction, self.editors):
            await self.refuse(interaction, editors_only(command))
            return
        if photo is not None and not topic:  # the form has no room for the topic as well
            await self.refuse(interaction, _(NEEDS_TOPIC))
            return

        async def submitted(inter: discord.Interaction, form: UpdateForm) -> None:
            slug = form.topic.value.strip().lower() if form.topic is not None else topic or ""
            head = f"{slug} --breaking" if breaking else slug
            await self.submit(inter, command, head, form, photo)

        title = _("New update") if command == "post" else _("Preview an update")
        await interaction.response.send_modal(
            UpdateForm(
                title=title,
                custom_id=f"relay:{command}",
                on_submit=submitted,
                topic=topic,
                with_topic=photo is None,
                attached=photo is not None,
            )
        )

    @in_language
    async def open_edit_form(
        self, interaction: discord.Interaction, update_id: str,
        photo: discord.Attachment | None = None,
    ) -> None:  # fmt: skip
        if not is_editor(interaction, self.editors):
            await self.refuse(interaction, editors_only("edit"))
            return
        valid = ID_PATTERN.match(update_id)
        current = await self.registry.latest(update_id) if valid else None
        if current is None:
            await self.refuse(interaction, no_update(update_id))
            return

        async def submitted(inter: discord.Interaction, form: UpdateForm) -> None:
            try:
                changes = form.changes(current)  # against what the form showed, not the latest
            except InvalidUpdate as exc:
                with speaking(language(inter)):
                    await self.refuse(inter, invalid(exc))
                return
            attached = (photo, *form.caption_and_credit()) if photo is not None else None
            await self.run(inter, "edit", update_id, changes=changes, attached=attached)

        await interaction.response.send_modal(
            UpdateForm(title=_("Edit {id}").format(id=update_id)[:45], custom_id="relay:edit",
                       on_submit=submitted, with_topic=False, current=current,
                       attached=photo is not None)
        )  # fmt: skip

    @in_language
    async def submit(
        self, interaction: discord.Interaction, command: str, head: str, form: UpdateForm,
        file: discord.Attachment | None = None,
    ) -> None:  # fmt: skip
        """Turn the /post or /preview form into the command's text form and run it."""
        link = form.link.value.strip()
        try:
            if link:
                check_url("link", link)
            photo = form.photo()
        except InvalidUpdate as exc:
            await self.refuse(interaction, invalid(exc))
            return
        args = f"{head} {form.headline.value.strip()}\n{form.body_text}"
        if link:
            args += f"\nLink: {link}"
        attached = (file, *form.caption_and_credit()) if file is not None else None
        await self.run(interaction, command, args, image=photo, attached=attached)

    async def refuse(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


def _register(s: SlashCommands) -> None:
    """Declare every command on `s.tree`."""
    tree, config = s.tree, s.commands.config

    async def topic_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.lower().strip()
        return [
            app_commands.Choice(name=f"{t.title} ({t.slug})"[:100], value=t.slug)
            for t in config.topics
            if needle in t.slug or needle in t.title.lower()
        ][:25]

    async def subscribed_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        dest = Destination("discord", str(interaction.channel_id))
        slugs = await s.subscriptions.topics(dest)
        with speaking(language(interaction)):
            choices = [app_commands.Choice(name=_("all topics"), value="all")]
        choices += [app_commands.Choice(name=slug, value=slug) for slug in slugs]
        return [c for c in choices if current.lower() in c.value][:25]

    guild_only = app_commands.guild_only()
    managers = app_commands.default_permissions(manage_channels=True)

    @tree.command(name="subscribe", description=DESCRIPTIONS["subscribe"])
    @app_commands.describe(topic=N_("The topic to receive in this channel"))
    @app_commands.autocomplete(topic=topic_choices)
    @guild_only
    @managers
    async def subscribe(interaction: discord.Interaction, topic: str) -> None:
        await s.run(interaction, "subscribe", topic, check_bot=True)

    @tree.command(name="unsubscribe", description=DESCRIPTIONS["unsubscribe"])
    @app_commands.describe(topic=N_("The topic to stop, or all"))
    @app_commands.autocomplete(topic=subscribed_choices)
    @guild_only
    @managers
    async def unsubscribe(interaction: discord.Interaction, topic: str) -> None:
        await s.run(interaction, "unsubscribe", topic)

    @tree.command(name="subscriptions", description=DESCRIPTIONS["subscriptions"])
    @guild_only
    @managers
    async def subscriptions(interaction: discord.Interaction) -> None:
        auth = InteractionAuthority(interaction, s.editors)
        refusal = await auth.may_manage(Destination("discord", str(interaction.channel_id)))
        if refusal is not None:
            await s.refuse(interaction, refusal)
            return
        await s.run(interaction, "subscriptions")

    @tree.command(name="settings", description=MENU_DESCRIPTIONS["settings"])
    @guild_only
    @managers
    async def settings(interaction: discord.Interaction) -> None:
        await s.settings.command(interaction)

    @tree.command(name="topics", description=DESCRIPTIONS["topics"])
    @guild_only
    async def topics(interaction: discord.Interaction) -> None:
        await s.run(interaction, "topics")

    @tree.command(name="help", description=DESCRIPTIONS["help"])
    @guild_only
    async def help_(interaction: discord.Interaction) -> None:
        auth = InteractionAuthority(interaction, s.editors)
        await s.answer(interaction, help_reply(auth))

    @tree.command(name="post", description=DESCRIPTIONS["post"])
    @app_commands.describe(
        topic=N_("Prefill the topic"),
        breaking=N_("Mark it as breaking news"),
        photo=N_("A photo to publish with it (the form asks for caption, credit)"),
    )
    @app_commands.autocomplete(topic=topic_choices)
    @guild_only
    async def post(
        interaction: discord.Interaction, topic: str | None = None, breaking: bool = False,
        photo: discord.Attachment | None = None,
    ) -> None:  # fmt: skip
        await s.open_form(interaction, "post", topic, breaking, photo)

    @tree.command(name="preview", description=DESCRIPTIONS["preview"])
    @app_commands.describe(
        topic=N_("Prefill the topic"),
        breaking=N_("Preview it as breaking news"),
        photo=N_("A photo to see it with (nothing is kept or published)"),
    )
    @app_commands.autocomplete(topic=topic_choices)
    @guild_only
    async def preview(
        interaction: discord.Interaction, topic: str | None = None, breaking: bool = False,
        photo: discord.Attachment | None = None,
    ) -> None:  # fmt: skip
        await s.open_form(interaction, "preview", topic, breaking, photo)

    @tree.command(name="edit", description=DESCRIPTIONS["edit"])
    @app_commands.describe(
        id=N_("The update id (from the confirmation of /post)"),
        photo=N_("A new photo for it (the form asks for caption, credit)"),
    )
    @guild_only
    async def edit(
        interaction: discord.Interaction, id: str, photo: discord.Attachment | None = None
    ) -> None:
        await s.open_edit_form(interaction, id.strip(), photo)

    @tree.command(name="recent", description=MENU_DESCRIPTIONS["recent"])
    @guild_only
    async def recent(interaction: discord.Interaction) -> None:
        await s.settings.command(interaction, "recent")

    @tree.command(name="delete", description=DESCRIPTIONS["delete"])
    @app_commands.describe(id=N_("The update id (from the confirmation of /post)"))
    @guild_only
    async def delete(interaction: discord.Interaction, id: str) -> None:
        await s.run(interaction, "delete", id.strip())
