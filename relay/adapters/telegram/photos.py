"""What sendPhoto and editMessageMedia take for an update's picture, for one bot.

A picture by URL goes as its URL; one uploaded to Telegram before the media store
(`FILE_URL` + file id) as the file id. A stored photo (`relay.media`) is uploaded as a file the
first time this bot sends it; Telegram's answer gives the photo's file id, which the next copies
reuse, so the photo is uploaded once per bot and process, not once per chat. A file id belongs to
the bot that received it: each bot's `Delivery` has its own `Photos`. Copies sent at the same
time wait for the first upload (one lock per photo) rather than all uploading it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from telegram import InputFile, InputMediaPhoto

from relay.errors import Rejected
from relay.media import MediaStore, file_name, stored_id

log = logging.getLogger(__name__)

FILE_URL = "https://telegram.invalid/file/"
REMEMBERED = 1024  # file ids kept per bot (most recently used)


def photo_ref(url: str) -> str:
    """What sendPhoto takes for a picture not in the store: a Telegram file id, else the URL."""
    return url.removeprefix(FILE_URL) if url.startswith(FILE_URL) else url


def answered_file_id(answer: Any) -> str | None:
    """The largest size's file id in a sent or edited message (a Bot API JSON `Message`)."""
    sizes = answer.get("photo") if isinstance(answer, dict) else None
    return str(sizes[-1]["file_id"]) if sizes else None


def media_photo(photo: str | InputFile, **kw: Any) -> InputMediaPhoto:
    """The InputMediaPhoto editMessageMedia takes: an upload is attached as a multipart part."""
    if isinstance(photo, InputFile):  # PTB attaches bytes it is given, not a ready InputFile
        return InputMediaPhoto(photo.input_file_content, filename=photo.filename, **kw)
    return InputMediaPhoto(photo, **kw)


class Photos:
    """One bot's pictures: file ids it may reuse, uploads from the media store."""

    def __init__(self) -> None:
        self.media: MediaStore | None = None  # set by the adapter's start
        self._file_ids: OrderedDict[str, str] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def remember(self, url: str, file_id: str | None) -> None:
        """`url`'s picture is `file_id` for this bot (from an answer, or the editor's upload)."""
        if file_id is None or stored_id(url) is None:
            return
        self._file_ids[url] = file_id
        self._locks.pop(url, None)  # later copies reuse the id; waiters hold the lock itself
        self._file_ids.move_to_end(url)
        while len(self._file_ids) > REMEMBERED:
            self._file_ids.popitem(last=False)

    def known(self, url: str) -> str | None:
        return self._file_ids.get(url)

    async def upload(self, url: str) -> InputFile:
        """The stored photo's bytes, as a file to upload. Raises `Rejected` when they are gone."""
        data = await self.media.get(url) if self.media is not None else None
        if data is None:
            raise Rejected("the photo is no longer in the relay's media store")
        return InputFile(data, filename=file_name(url))

    async def send(self, url: str, call: Any) -> Any:
        """`call(photo)` with what Telegram takes for `url`; its answer. A stored photo is
        uploaded unless this bot already has its file id (learned from the answer)."""
        if stored_id(url) is None:
            return await call(photo_ref(url))
        known = self.known(url)
        if known is None:
            async with self._locks.setdefault(url, asyncio.Lock()):
                known = self.known(url)  # a copy sent meanwhile uploaded it
                if known is None:
                    answer = await call(await self.upload(url))
                    self.remember(url, answered_file_id(answer))
                    return answer
        return await call(known)
