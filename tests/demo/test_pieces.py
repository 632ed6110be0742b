"""The demo's parts on their own: sample photos, the sample blog, the world and its config."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from relay_sandbox.demo import content, images
from relay_sandbox.demo.world import build_config, provision
from relay_sandbox.discord import DiscordSandbox
from relay_sandbox.telegram.server import TelegramSandbox

from relay import model
from relay.model import Destination


def _png_rows(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF, tag
        if tag == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
            assert body[8:10] == b"\x08\x02"  # 8-bit RGB
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.mark.parametrize("name", sorted(images.SCENES))
def test_each_sample_photo_is_a_valid_png_of_its_own(name: str) -> None:
    width, height, raw = _png_rows(images.image(name))
    assert (width, height) == (images.WIDTH, images.HEIGHT)
    assert len(raw) == height * (1 + 3 * width)
    rows = [raw[y * (1 + 3 * width) : (y + 1) * (1 + 3 * width)] for y in range(height)]
    assert all(row[0] == 0 for row in rows)
    pixels = {row[1 + 3 * x : 4 + 3 * x] for row in rows[::10] for x in range(0, width, 10)}
    assert len(pixels) > 20  # a picture, not a flat colour
    others = [images.image(n) for n in images.SCENES if n != name]
    assert images.image(name) not in others
    assert images.path(name) == f"/demo/images/{name}.png"


def test_unknown_photos_and_bad_rows_are_refused() -> None:
    with pytest.raises(KeyError):
        images.image("nope")
    with pytest.raises(KeyError):
        images.path("nope")
    with pytest.raises(ValueError, match="rows do not match"):
        images.encode_png(2, 1, [b"\x00" * 5])


def test_the_sample_blog_is_valid_and_has_every_kind_of_update() -> None:
    steps = content.script("http://127.0.0.1:8090")
    latest: dict[str, model.Update] = {}
    slugs = {t["slug"] for t in content.TOPICS}
    for step in steps:
        if step.action == "publish":
            assert step.update_id not in latest
            latest[step.update_id] = model.from_dict({"id": step.update_id, **step.fields})
            assert latest[step.update_id].topic in slugs
        elif step.action == "edit":
            previous = latest[step.update_id]
            latest[step.update_id] = model.validate(replace(previous, **step.fields))
        else:
            assert step.action == "delete" and step.update_id in latest
    published = list(latest.values())
    photos = [u.image for u in published if u.image is not None]
    assert photos and all(p.credit and p.caption for p in photos)
    assert all(p.url.startswith("http://127.0.0.1:8090/demo/images/") for p in photos)
    assert any("\nRead: [" in u.body for u in published)
    assert any("\n> " in u.body for u in published)
    assert any("**" in u.body and "_" in u.body for u in published)
    assert [u.id for u in published if u.breaking] == ["halvard-4"]
    assert any(u.link for u in published)
    actions = [s.action for s in steps]
    assert actions.count("edit") == 2 and actions.count("delete") == 1
    corrected = latest["halvard-3"]
    assert "_Correction:" in corrected.body and "four metres" in corrected.body
    assert latest["halvard-2"].headline.endswith("flood the fish market")


def test_the_config_points_at_the_sandboxes_and_subscribes_the_config_channels(
    tmp_path: Path,
) -> None:
    telegram, discord = TelegramSandbox(), DiscordSandbox()
    telegram.port = 8090
    discord.set_base_url("http://127.0.0.1:8090")
    world = provision(telegram, discord)
    config = build_config(world, telegram, discord, tmp_path)
    assert world.discord is not None
    assert config.redis.url is None and config.redis.data_dir == tmp_path
    assert config.telegram.enabled and config.telegram.api_url == "http://127.0.0.1:8090/bot"
    assert config.telegram.token == world.telegram.token
    assert config.discord.enabled and config.discord.api_url == "http://127.0.0.1:8090/api/v10"
    assert config.discord.gateway_url == "ws://127.0.0.1:8090/gateway"
    assert config.discord.command_guild_ids == (world.discord.guild_id,)
    assert {(str(c.destination), c.topics) for c in config.channels} == {
        (f"telegram:{world.telegram.channel_id}", ("storm", "council", "transit")),
        (f"discord:{world.discord.live_id}", ("storm", "council", "transit")),
    }
    assert not config.console.enabled and not config.api.enabled
    assert config.telegram.budgets.per_group_per_minute == 20  # readable pace by default
    fast = build_config(world, telegram, discord, tmp_path, fast=True)
    assert fast.telegram.budgets.per_group_per_minute == 3000
    assert [p.key for p in world.panes()] == [
        f"telegram:{world.telegram.channel_id}", f"telegram:{world.telegram.group_id}",
        f"telegram:{world.telegram.reader_id}", f"discord:{world.discord.live_id}",
        f"discord:{world.discord.hall_id}",
    ]  # fmt: skip
    assert Destination.parse(world.panes()[0].key).platform == "telegram"


def test_without_discord_only_telegram_is_configured(tmp_path: Path) -> None:
    telegram = TelegramSandbox()
    world = provision(telegram, None)
    config = build_config(world, telegram, None, tmp_path)
    assert not config.discord.enabled
    assert [p.platform for p in world.panes()] == ["telegram"] * 3
