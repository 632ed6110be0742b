"""The media store on a real Valkey: each photo kept once, for the ledger's time, within its
per-photo and total bounds; past them the editor's answer, and nothing kept."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from relay import media as media_module
from relay.config import Config
from relay.errors import ConfigError
from relay.keys import Keys
from relay.media import MB, MediaRefused, MediaStore, media_id, ref, stored_id
from relay.media_settings import MediaConfig

KEYS = Keys()


def store(client: aioredis.Redis, image_mb: float = 1.0, total_mb: float = 2.0) -> MediaStore:
    return MediaStore(client, KEYS, 600, MediaConfig(image_mb, total_mb))


async def test_a_photo_is_kept_once_by_its_digest_for_the_ledgers_time(
    client: aioredis.Redis,
) -> None:
    media = store(client)
    photo = b"\xff\xd8 photo " * 100
    url = await media.put(photo)
    assert url == ref(media_id(photo)) and stored_id(url) == media_id(photo)
    assert await media.put(photo) == url  # the same bytes: the same photo, not a second one
    assert await media.get(url) == photo
    assert 0 < await client.ttl(KEYS.media(media_id(photo))) <= 600
    assert await client.hgetall(KEYS.media_sizes) == {media_id(photo).encode(): b"900"}
    assert await media.get("https://images.example/p.jpg") is None
    assert await media.get(ref("0" * 32)) is None


async def test_past_the_limits_the_editor_is_told_and_nothing_is_kept(
    client: aioredis.Redis,
) -> None:
    media = store(client, image_mb=1.0, total_mb=2.0)
    with pytest.raises(MediaRefused, match=r"That photo is 1\.5 MB; the relay takes photos up to"):
        await media.put(b"x" * int(1.5 * MB))
    first = await media.put(b"a" * int(0.9 * MB))
    await media.put(b"b" * int(0.9 * MB))
    with pytest.raises(MediaRefused, match=r"photo store is full \(2 MB\)"):
        await media.put(b"c" * int(0.9 * MB))
    assert len(await client.hgetall(KEYS.media_sizes)) == 2
    assert await media.put(b"a" * int(0.9 * MB)) == first  # one already kept still goes


def test_the_media_section_takes_positive_megabytes(make_config: Callable[..., Config]) -> None:
    assert make_config().media == MediaConfig(10.0, 200.0)
    assert make_config(media={"max_image_mb": 2, "max_total_mb": 50}).media == MediaConfig(2, 50)
    with pytest.raises(ConfigError, match=r"media\.max_image_mb: a positive number of megabytes"):
        make_config(media={"max_image_mb": 0})


async def test_photos_read_lately_are_served_from_memory_within_a_bound(
    client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media_module, "CACHED", 2500)  # room for two photos of 1,000 bytes
    media = store(client)
    urls = [await media.put(bytes([n]) * 1000) for n in range(3)]
    assert [await media.get(u) for u in urls] == [bytes([n]) * 1000 for n in range(3)]
    await client.delete(*(KEYS.media(str(stored_id(u))) for u in urls))
    # The two read last are still in memory (a Discord copy per channel reads Redis once).
    assert await media.get(urls[0]) is None
    assert await media.get(urls[1]) == b"\x01" * 1000
    assert await media.get(urls[2]) == b"\x02" * 1000
