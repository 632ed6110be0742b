"""The media store: photos with no public URL, kept in Redis for the adapters to upload.

An editor's photo sent in Telegram has only a Telegram file id, which no other platform (nor
another Telegram bot) can use; a Discord attachment's CDN URL is signed and expires. So the
adapter that receives such a photo downloads it once and `put`s the bytes here, under the
SHA-256 of the bytes (the same photo is kept once). The update's image URL is then
`https://media.invalid/<id>` (`MEDIA_URL`, `ref`), which only the adapters read: each uploads
the stored bytes as a file (Telegram `sendPhoto` multipart, Discord an attachment).

Redis, not a directory: every worker of a deployment reads the same store, and it expires
with the ledger (`dispatcher.ledger_ttl_days`, after which no edit reaches a copy anyway).
Bounded (`media.max_image_mb` per photo, `media.max_total_mb` for all), checked in one Lua
script, so concurrent puts never pass the total; past a limit `put` raises `MediaRefused`,
whose message is the answer the editor gets, and nothing is stored. Each process keeps the
photos it read lately in memory (`CACHED` bytes): a copy per Discord channel reads Redis once.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from relay.errors import InvalidUpdate, RelayError
from relay.i18n import N_, _
from relay.keys import Keys
from relay.media_settings import MediaConfig
from relay.model import Image
from relay.scripts import Script

if TYPE_CHECKING:
    from relay.config import Config

MEDIA_URL = "https://media.invalid/"
MB = 1024 * 1024
CACHED = 32 * MB  # photo bytes each process keeps in memory (`MediaStore.get`)

# The replies an editor may see (marked for the catalogues, translated by `MediaRefused.said`).
TOO_BIG = N_(
    "That photo is {size:.1f} MB; the relay takes photos up to {limit:g} MB. Nothing was posted."
)
STORE_FULL = N_(
    "The relay's photo store is full ({limit:g} MB); try again later or post the photo by URL. "
    "Nothing was posted."
)
NOT_DOWNLOADED = N_("Sorry, the photo could not be downloaded. Nothing was posted.")
NOT_A_PHOTO = N_("That file is not a photo (JPEG, PNG, GIF or WebP). Nothing was posted.")
NO_STORE = N_("This relay keeps no photos; give the photo by URL instead. Nothing was posted.")
GONE = N_(
    "names a photo the relay no longer keeps (photos are kept {days:g} days); upload it again"
)
NEEDS_TOPIC = N_("With a photo attached, give the topic too: /post topic:<topic> photo:<file>.")


class MediaRefused(RelayError):
    """A photo the store does not take; the message says why, for the editor (in English;
    `said()` in the language of the moment)."""

    def __init__(self, reply: str, **values: object) -> None:
        super().__init__(reply.format(**values))
        self.reply = reply
        self.values = values

    def said(self) -> str:
        return _(self.reply).format(**self.values)


def media_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def ref(mid: str) -> str:
    """The image URL of a stored photo."""
    return MEDIA_URL + mid


def stored_id(url: str) -> str | None:
    """The media id an image URL names, if it is a stored photo's."""
    return url.removeprefix(MEDIA_URL) if url.startswith(MEDIA_URL) else None


def photo_type(data: bytes) -> str | None:
    """The content type of a JPEG, PNG, GIF or WebP photo, read from its first bytes; None for
    anything else (what a browser or a platform would not show as a picture)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def file_name(url: str) -> str:
    """The file name a stored photo is uploaded with."""
    return f"{stored_id(url) or 'photo'}.jpg"


# KEYS: index (id → expiry), sizes (id → bytes), the photo's key. ARGV: id, bytes, ttl, now,
# max total. Forgets expired photos, then stores this one if the total allows: 1, else 0.
_PUT = """
local now = tonumber(ARGV[4])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('HDEL', KEYS[2], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local expiry = now + tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[3]) == 0 then
  local total = #ARGV[2]
  for _, size in ipairs(redis.call('HVALS', KEYS[2])) do total = total + tonumber(size) end
  if total > tonumber(ARGV[5]) then return 0 end
  redis.call('SET', KEYS[3], ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[1], #ARGV[2])
end
if expiry > tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0') then
  redis.call('ZADD', KEYS[1], expiry, ARGV[1])
end
for _, key in ipairs(KEYS) do  -- never shortened: a scheduled update may hold it longer
  if redis.call('TTL', key) < tonumber(ARGV[3]) then redis.call('EXPIRE', key, ARGV[3]) end
end
return 1
"""

# KEYS: index, the photo's key, sizes. ARGV: id, until (epoch s), now. 0 if the photo is not
# kept; else 1, and it is kept until `until` at least (its index entry too: the total counts it).
_HOLD = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local keep, left = tonumber(ARGV[2]), tonumber(ARGV[2]) - tonumber(ARGV[3])
if keep > tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0') then
  redis.call('ZADD', KEYS[1], keep, ARGV[1])
end
for _, key in ipairs({KEYS[1], KEYS[2], KEYS[3]}) do
  local ttl = redis.call('TTL', key)
  if ttl >= 0 and ttl < left then redis.call('EXPIREAT', key, keep) end
end
return 1
"""


class Photos:
    """What ingest and the schedule check of an update's stored photo: that it is still kept,
    and that it stays kept as long as the update may need it (its copies' edits, its time)."""

    def __init__(self, client: aioredis.Redis, keys: Keys, ttl_seconds: int | None) -> None:
        self.keys = keys
        self.ttl_seconds = ttl_seconds
        self._hold = Script(client, _HOLD)

    async def hold(self, image: Image | None, at: float | None = None, given: bool = True) -> None:
        """Keep `image`'s stored photo until `ttl_seconds` after `at` (now by default). If it
        is no longer kept, raise `InvalidUpdate` on `image.url` when the editor `given` it (not
        when an edit keeps the update's photo). Any other image passes."""
        mid = stored_id(image.url) if image is not None else None
        if mid is None:
            return
        now = time.time()
        until = int((now if at is None else at) + (self.ttl_seconds or 0))
        keys = [self.keys.media_index, self.keys.media(mid), self.keys.media_sizes]
        if not await self._hold(keys=keys, args=[mid, until, int(now)]) and given:
            days = (self.ttl_seconds or 0) / 86400
            raise InvalidUpdate("image.url", GONE, days=days)


class MediaStore:
    """Photos by media id, each for `ttl_seconds`, within the config's limits."""

    def __init__(
        self, client: aioredis.Redis, keys: Keys, ttl_seconds: int, config: MediaConfig
    ) -> None:
        self.client = client
        self.keys = keys
        self.ttl_seconds = ttl_seconds
        self.config = config
        self._put = Script(client, _PUT)
        # Bytes read lately, by media id: a photo never changes (its id is its digest), and a
        # Discord copy uploads it to every channel; at most CACHED bytes, least recent first out.
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cached = 0

    @classmethod
    def from_config(cls, client: aioredis.Redis, config: Config) -> MediaStore:
        keys = Keys(config.redis.key_prefix, config.redis.shards)
        ttl = int(config.dispatcher.ledger_ttl_days * 86400)
        return cls(client, keys, ttl, config.media)

    def check_size(self, size: int) -> None:
        """Raise `MediaRefused` for a photo of `size` bytes past the per-photo limit."""
        if size > self.config.max_image_mb * MB:
            raise MediaRefused(TOO_BIG, size=size / MB, limit=self.config.max_image_mb)

    async def put(self, data: bytes) -> str:
        """Keep `data`; the image URL naming it. Raises `MediaRefused` past a limit."""
        self.check_size(len(data))
        mid = media_id(data)
        keys = [self.keys.media_index, self.keys.media_sizes, self.keys.media(mid)]
        args = [mid, data, self.ttl_seconds, int(time.time()), int(self.config.max_total_mb * MB)]
        if not await self._put(keys=keys, args=args):
            raise MediaRefused(STORE_FULL, limit=self.config.max_total_mb)
        return ref(mid)

    async def get(self, url: str) -> bytes | None:
        """The bytes of the stored photo `url` names; None if it is not (or no longer) kept."""
        mid = stored_id(url)
        if mid is None:
            return None
        if (hit := self._cache.get(mid)) is not None:
            self._cache.move_to_end(mid)
            return hit
        data = await self.client.get(self.keys.media(mid))
        if data is None:
            return None
        data = data.encode() if isinstance(data, str) else data
        self._cache[mid] = data
        self._cached += len(data)
        while self._cached > CACHED:
            self._cached -= len(self._cache.popitem(last=False)[1])
        return data
