"""Sending, editing and deleting an update's messages through discord.py's HTTP client.

Every part is created with a `nonce` derived from (update, revision, destination, part) and
`enforce_nonce: true`: a retry after a lost answer gets the message created the first time.

Announcement channels crosspost new copies in the background (`crosspost.Crossposts`, within
a budget in Redis). A topic's breaking-news role belongs to one guild: it is mentioned only in
copies sent to that guild's channels (the guild from the gateway cache, else GET /channels/{id}).

Forum channels receive updates in one post (thread) per topic, or per topic and day; parts
posted there have ids written `<thread id>:<message id>`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections import defaultdict
from typing import Any, Literal

import discord
import discord.http
from discord.http import Route

from relay.adapter import Pace, no_pace
from relay.adapters.discord import render as R
from relay.adapters.discord.crosspost import Crossposts
from relay.adapters.discord.errors import is_unknown_message, translate
from relay.adapters.discord.markdown import escape, escape_headline
from relay.budgets import Budgets
from relay.config import TopicConfig
from relay.errors import DeliveryError, Gone, Rejected
from relay.media import MediaStore, file_name, stored_id
from relay.model import Destination, Update

log = logging.getLogger(__name__)

ANNOUNCEMENT, FORUM = 5, 15
THREAD_TYPES = frozenset({10, 11, 12})
NONCE_LENGTH = 25
ForumMode = Literal["topic", "day"]


def nonce(update: Update, dest: Destination, part: int) -> str:
    """A stable nonce of at most 25 characters for one part of one revision at `dest`."""
    seed = f"{update.id}\0{update.revision}\0{dest}\0{part}".encode()
    digest = hashlib.blake2b(seed, digest_size=15).digest()
    return base64.b32encode(digest).decode().lower()[:NONCE_LENGTH]


def target(dest: Destination) -> int:
    """The channel a destination's messages go to: its thread when it names one.

    A thread subscribed by /subscribe is its own destination (`discord:<thread id>`), since a
    thread is a channel on Discord; `discord:<parent>:<thread>` from the config works too.
    """
    return int(dest.thread_id or dest.chat_id)


def split_id(dest: Destination, message_id: str) -> tuple[int, int]:
    """(channel id, message id) of a stored part id."""
    channel, _, message = message_id.rpartition(":")
    return int(channel) if channel else target(dest), int(message)


def _no_photo(body: dict[str, Any]) -> dict[str, Any]:
    """A message body without its first embed's image (a photo the bot may not upload)."""
    embeds = [dict(e) for e in body.get("embeds") or []]
    if embeds:
        embeds[0].pop("image", None)
    return {**body, "embeds": embeds}


def thread_name(topic: TopicConfig, update: Update, mode: ForumMode) -> str:
    """The forum post an update goes to: one per topic, or per topic and (UTC) day."""
    if mode == "day":
        return f"{topic.title} · {update.published_at:%Y-%m-%d}"[:100]
    return f"{topic.title} · live updates"[:100]


class Delivery:
    """send / edit / delete over a logged-in `discord.Client`."""

    def __init__(
        self,
        client: discord.Client,
        bot_id: str,
        *,
        forum_threads: ForumMode = "topic",
        crosspost: bool = True,
        crosspost_per_hour: int = 10,
    ) -> None:
        self.client = client
        self.bot_id = bot_id
        self.forum_threads = forum_threads
        self.crossposts = Crossposts(bot_id, enabled=crosspost, per_hour=crosspost_per_hour)
        self._kinds: dict[int, int] = {}
        self._guilds: dict[int, int | None] = {}
        self._threads: dict[tuple[int, str], int] = {}
        self._forum_locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.media: MediaStore | None = None  # set by the adapter's start

    async def open(self, token: str, budgets: Budgets | None = None) -> None:
        """Log in the crosspost client (the main client is logged in by the adapter)."""
        await self.crossposts.open(token, budgets)

    async def settle(self) -> None:
        """Wait for the crossposts in flight."""
        await self.crossposts.settle()

    async def close(self) -> None:
        await self.crossposts.close()

    # -- plumbing -------------------------------------------------------------------------------

    def channel_key(self, channel_id: int | str) -> str:
        return f"discord:{self.bot_id}:channel:{channel_id}"

    async def _request(
        self, route: Route, dest: Destination, update_id: str, need: str, **kw: Any
    ) -> Any:
        try:
            return await self.client.http.request(route, **kw)
        except Exception as exc:
            error = self._translate(exc, route, dest, update_id, need)
            if error is None:
                raise
            raise error from exc

    def _translate(
        self, exc: BaseException, route: Route, dest: Destination, update_id: str, need: str
    ) -> DeliveryError | None:
        channel_id = route.channel_id or dest.chat_id
        return translate(
            exc,
            channel_key=self.channel_key(target(dest)),
            global_key=f"discord:{self.bot_id}:global",
            missing=self.missing(int(channel_id), need),
            destination=str(dest),
            update_id=update_id,
        )

    def missing(self, channel_id: int, need: str) -> str:
        """Name the permissions the bot lacks in the channel (from the gateway cache)."""
        channel = self.client.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        me = guild.me if guild is not None else None
        wanted = [p.strip() for p in need.split(",")]
        if channel is None or me is None or not hasattr(channel, "permissions_for"):
            return " or ".join(wanted)
        perms = channel.permissions_for(me)
        lacking = [p for p in wanted if not getattr(perms, p.lower().replace(" ", "_"), True)]
        return ", ".join(lacking or wanted)

    async def kind(self, channel_id: int, dest: Destination, update_id: str) -> int:
        """The channel's type (0 text, 5 announcement, 11 thread, 15 forum…), cached."""
        if channel_id not in self._kinds:
            cached = self.client.get_channel(channel_id)
            if cached is not None and not isinstance(cached, discord.abc.PrivateChannel):
                self._kinds[channel_id] = cached.type.value
                self._guilds[channel_id] = cached.guild.id
            else:
                route = Route("GET", "/channels/{channel_id}", channel_id=channel_id)
                data = await self._request(route, dest, update_id, "View Channel")
                self._kinds[channel_id] = int(data["type"])
                self._guilds[channel_id] = int(data["guild_id"]) if data.get("guild_id") else None
        return self._kinds[channel_id]

    async def payloads(
        self, channel_id: int, dest: Destination, update: Update, topic: TopicConfig
    ) -> tuple[dict[str, Any], ...]:
        """The messages of `update` for a channel: the breaking role of the channel's guild."""
        payloads = R.render_cached(update, topic)
        if not (update.breaking and topic.breaking_roles):
            return payloads
        await self.kind(channel_id, dest, update.id)
        return R.with_role(payloads, topic.breaking_role(self._guilds.get(channel_id)))

    def _send_need(self, kind: int) -> str:
        send = "Send Messages in Threads" if kind in THREAD_TYPES else "Send Messages"
        return f"View Channel, {send}, Embed Links"

    async def _create(
        self,
        channel_id: int,
        body: dict[str, Any],
        dest: Destination,
        update: Update,
        need: str,
        part: int = 0,
    ) -> str:
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        sending = await self._with_photo(body, dest, update, part)
        if "form" not in sending:
            data = await self._request(route, dest, update.id, need, **sending)
            return str(data["id"])
        try:
            data = await self._request(route, dest, update.id, need + ", Attach Files", **sending)
        except Gone:
            if not self._only_attach_files_lacking(channel_id, need):
                raise
            data = await self._request(route, dest, update.id, need, json=_no_photo(body))
        return str(data["id"])

    def _only_attach_files_lacking(self, channel_id: int, need: str) -> bool:
        """A 50013 on an upload where the bot may do all else: the photo is left out (logged),
        rather than the channel unsubscribed for a permission photos by URL never needed."""
        if self.missing(channel_id, need + ", Attach Files") != "Attach Files":
            return False
        log.warning("no Attach Files in channel=%s: the photo is left out", channel_id)
        return True

    async def _with_photo(
        self, body: dict[str, Any], dest: Destination, update: Update, part: int
    ) -> dict[str, Any]:
        """The request's body: JSON, or with a stored photo (`relay.media`) a multipart form
        uploading it as the attachment the first embed shows. Only the first part has it."""
        url = update.image.url if update.image is not None and part == 0 else None
        if url is None or stored_id(url) is None:
            return {"json": body}
        data = await self.media.get(url) if self.media is not None else None
        if data is None:
            raise Rejected("the photo is no longer in the relay's media store", platform="discord",
                           destination=str(dest), update_id=update.id)  # fmt: skip
        name = file_name(url)
        payload = {**body, "attachments": [{"id": 0, "filename": name}]}
        return {"form": [
            {"name": "payload_json", "value": json.dumps(payload)},
            {"name": "files[0]", "value": data, "filename": name, "content_type": "image/jpeg"},
        ]}  # fmt: skip

    # -- the three operations ------------------------------------------------------------------

    async def send(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        pace: Pace = no_pace,
        sent: tuple[str, ...] = (),
    ) -> tuple[str, ...]:
        """The parts after `sent`, each at its `pace`; a failure part way carries `error.sent`."""
        ids: list[str] = list(sent)
        try:
            if sent:  # resume where the copy lives (a forum copy: its post)
                channel_id = split_id(dest, sent[0])[0]
                prefix = f"{channel_id}:" if ":" in sent[0] else ""
                kind = await self.kind(channel_id, dest, update.id)
            else:
                channel_id = target(dest)
                kind = await self.kind(channel_id, dest, update.id)
                prefix = ""
                if kind == FORUM:
                    channel_id = await self._forum_post(channel_id, dest, update, topic)
                    kind, prefix = 11, f"{channel_id}:"
            payloads = await self.payloads(channel_id, dest, update, topic)
            for part, payload in enumerate(payloads):
                if part < len(sent):
                    continue
                body = {**payload, "nonce": nonce(update, dest, part), "enforce_nonce": True}
                await pace()
                need = self._send_need(kind)
                mid = await self._create(channel_id, body, dest, update, need, part)
                ids.append(prefix + mid)
        except DeliveryError as exc:
            if len(ids) > len(sent):
                exc.sent = tuple(ids)
            raise
        if kind == ANNOUNCEMENT:
            self.crossposts.publish(channel_id, ids[len(sent) :], dest)
        return tuple(ids)

    async def edit(
        self,
        dest: Destination,
        update: Update,
        topic: TopicConfig,
        message_ids: tuple[str, ...],
        pace: Pace = no_pace,
    ) -> tuple[str, ...]:
        # added or re-sent parts go where the copy lives (a forum copy: its post)
        home = split_id(dest, message_ids[0])[0] if message_ids else target(dest)
        prefix = f"{home}:" if message_ids and ":" in message_ids[0] else ""
        ids: list[str] = []
        try:
            payloads = await self.payloads(home, dest, update, topic)
            for part, payload in enumerate(payloads):
                await pace()
                if part < len(message_ids) and await self._edit_part(
                    dest, update, message_ids[part], payload, part
                ):
                    ids.append(message_ids[part])
                    continue
                body = {**payload, "nonce": nonce(update, dest, part), "enforce_nonce": True}
                need = self._send_need(await self.kind(home, dest, update.id))
                ids.append(prefix + await self._create(home, body, dest, update, need, part))
        except DeliveryError as exc:
            if ids != list(message_ids[: len(ids)]):  # parts were sent again or added
                exc.sent = (*ids, *message_ids[len(ids) :])
            raise
        await self.delete(dest, message_ids[len(payloads) :], update.id)
        return tuple(ids)

    async def _edit_part(
        self,
        dest: Destination,
        update: Update,
        message_id: str,
        payload: dict[str, Any],
        part: int = 0,
    ) -> bool:
        """Edit one part in place; False when someone deleted it (it is then sent again).
        The first part's stored photo is uploaded again, replacing the attachments it had;
        without one, the first part's attachments are emptied (a removed photo goes)."""
        channel_id, mid = split_id(dest, message_id)
        # no flags: notifications only matter for new messages; content "" drops an old ping
        body = {"embeds": payload["embeds"], "content": payload.get("content", ""),
                "allowed_mentions": payload["allowed_mentions"]}  # fmt: skip
        if part == 0:
            body["attachments"] = []
        route = Route("PATCH", "/channels/{channel_id}/messages/{message_id}",
                      channel_id=channel_id, message_id=mid)  # fmt: skip
        sending = await self._with_photo(body, dest, update, part)
        try:
            try:
                await self.client.http.request(route, **sending)
            except discord.Forbidden as exc:
                lacking = exc.code == 50013 and "form" in sending
                if not (lacking and self._only_attach_files_lacking(channel_id, "Embed Links")):
                    raise
                await self.client.http.request(route, json=_no_photo(body))
            return True
        except Exception as exc:
            if is_unknown_message(exc):
                log.info("part gone, sending it again dest=%s update=%s message=%s",
                         dest, update.id, message_id)  # fmt: skip
                return False
            error = self._translate(exc, route, dest, update.id, "Embed Links")
            if error is None:
                raise
            raise error from exc

    async def delete(
        self, dest: Destination, message_ids: tuple[str, ...], update_id: str = ""
    ) -> None:
        for message_id in message_ids:
            channel_id, mid = split_id(dest, message_id)
            route = Route("DELETE", "/channels/{channel_id}/messages/{message_id}",
                          channel_id=channel_id, message_id=mid)  # fmt: skip
            try:
                await self.client.http.request(route)
            except Exception as exc:
                if is_unknown_message(exc):
                    continue  # already gone counts as deleted
                error = self._translate(exc, route, dest, update_id, "Manage Messages")
                if error is None:
                    raise
                raise error from exc

    # -- announcement and forum channels ------------------------------------------------------

    async def _forum_post(
        self, forum_id: int, dest: Destination, update: Update, topic: TopicConfig
    ) -> int:
        """The forum post (thread) this update belongs in, created on first use."""
        name = thread_name(topic, update, self.forum_threads)
        async with self._forum_locks[forum_id]:
            found = self._threads.get((forum_id, name)) or self._cached_thread(forum_id, name)
            if found is not None:
                self._threads[(forum_id, name)] = found
                return found
            header = {"title": escape_headline(topic.title)[: R.TITLE_MAX], "color": topic.color}
            if topic.description:
                header["description"] = escape(topic.description)[: R.DESCRIPTION_MAX]
            body = {"name": name, "auto_archive_duration": 10080,
                    "message": {"embeds": [header], "allowed_mentions": R.NO_MENTIONS}}  # fmt: skip
            route = Route("POST", "/channels/{channel_id}/threads", channel_id=forum_id)
            data = await self._request(route, dest, update.id, "Send Messages, Embed Links",
                                       json=body)  # fmt: skip
            thread_id = int(data["id"])
            log.info("forum post created dest=%s thread=%s name=%r", dest, thread_id, name)
            self._threads[(forum_id, name)] = thread_id
            self._kinds[thread_id] = 11
            self._guilds[thread_id] = self._guilds.get(forum_id)
            return thread_id

    def _cached_thread(self, forum_id: int, name: str) -> int | None:
        forum = self.client.get_channel(forum_id)
        me = self.client.user.id if self.client.user else None
        for thread in getattr(forum, "threads", []):
            if thread.name == name and thread.owner_id == me and not thread.archived:
                return int(thread.id)
        return None
