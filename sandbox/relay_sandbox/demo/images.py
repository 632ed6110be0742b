"""Sample photos drawn by code (PNG), so the demo shows pictures without any network."""

from __future__ import annotations

import math
import random
import struct
import zlib
from collections.abc import Callable
from functools import lru_cache

WIDTH, HEIGHT = 480, 300
RGB = tuple[int, int, int]
# A scene gives, for one column x, the colour of every row y (top to bottom).
Column = Callable[[int], list[RGB]]


def encode_png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG from `height` rows of `3 * width` bytes."""
    if len(rows) != height or any(len(r) != 3 * width for r in rows):
        raise ValueError("rows do not match the image size")

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    t = min(1.0, max(0.0, t))
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _draw(column: Column) -> bytes:
    columns = [column(x) for x in range(WIDTH)]
    rows = [bytes(c for x in range(WIDTH) for c in columns[x][y]) for y in range(HEIGHT)]
    return encode_png(WIDTH, HEIGHT, rows)


def _harbour(x: int) -> list[RGB]:
    """Storm over a harbour wall: grey sky, a lighthouse, breaking waves."""
    wall_top = 196
    wave = 214 + 9 * math.sin(x / 23.0) + 5 * math.sin(x / 7.0 + 1.3)
    # A plume of spray where a wave hits the wall.
    spray = wall_top - 96 * math.exp(-(((x - 320) / 46.0) ** 2)) + 6 * math.sin(x / 4.0)
    out: list[RGB] = []
    for y in range(HEIGHT):
        if 60 <= x <= 84 and 92 <= y < wall_top:  # lighthouse tower, striped
            out.append((236, 232, 225) if (y // 16) % 2 else (178, 40, 48))
        elif 56 <= x <= 88 and 80 <= y < 92:  # lantern room
            out.append((255, 214, 102))
        elif y >= wave:
            out.append(_mix((44, 86, 112), (18, 40, 58), (y - wave) / 80))
        elif y >= wall_top:
            out.append((72, 70, 66) if y > wall_top + 4 else (110, 106, 98))
        elif spray <= y < wall_top:
            out.append(_mix((220, 230, 236), (150, 170, 182), (y - spray) / 60))
        else:
            out.append(_mix((92, 100, 112), (170, 178, 186), y / wall_top))
    return out


_RNG = random.Random(7)
_SKYLINE = [(_RNG.randrange(12, 40), _RNG.randrange(120, 230)) for _ in range(30)]


def _skyline_height(x: int) -> int:
    start = 0
    for width, top in _SKYLINE:
        if x < start + width:
            return top
        start += width
    return 200


def _rain(x: int) -> list[RGB]:
    """Rain over the old town at dusk: dark clouds, a skyline, lit windows, streaks of rain."""
    top = _skyline_height(x)
    out: list[RGB] = []
    for y in range(HEIGHT):
        streak = (x + y // 2) % 29 == 0 and y % 11 < 6
        if y >= 262:
            colour = _mix((40, 44, 54), (24, 26, 32), (y - 262) / 38)
        elif y >= top:
            window = (x % 9 in (3, 4, 5)) and (y % 14 in (4, 5, 6, 7)) and (x * 7 + y) % 5 == 0
            colour = (246, 200, 110) if window else (34, 38, 48)
        else:
            cloud = 0.5 + 0.5 * math.sin(x / 37.0 + math.sin(y / 19.0) * 2)
            colour = _mix((58, 62, 78), (112, 110, 128), cloud * (1 - y / 300))
        out.append(_mix(colour, (190, 200, 214), 0.55) if streak else colour)
    return out


def _hall(x: int) -> list[RGB]:
    """The town hall on a clear morning: columns, a pediment, a flag."""
    centre = WIDTH // 2
    out: list[RGB] = []
    for y in range(HEIGHT):
        dx = abs(x - centre)
        pediment = 70 + dx * 0.42
        if y >= 250:
            colour = (196, 190, 178) if (x // 40 + y // 12) % 2 else (184, 178, 166)
        elif 120 <= y < 250 and dx < 170:
            column = (x - centre + 170) % 42 < 20
            colour = (240, 236, 226) if column else (150, 142, 130)
        elif pediment <= y < 120 and dx < 180:
            colour = (226, 220, 206) if y > pediment + 6 else (200, 192, 176)
        elif centre - 2 <= x <= centre + 1 and 20 <= y < 72:  # flag pole
            colour = (90, 90, 90)
        elif centre + 2 <= x <= centre + 44 and 20 <= y < 46:
            colour = (200, 46, 60) if (y - 20) // 9 != 1 else (250, 250, 250)
        else:
            colour = _mix((96, 160, 222), (200, 226, 246), y / 250)
        out.append(colour)
    return out


SCENES: dict[str, tuple[str, Column]] = {
    "harbour": ("Waves over the harbour wall", _harbour),
    "rain": ("Rain over the old town", _rain),
    "hall": ("The town hall", _hall),
}


@lru_cache(maxsize=len(SCENES))
def image(name: str) -> bytes:
    """The PNG bytes of a sample photo; KeyError for an unknown name."""
    return _draw(SCENES[name][1])


def path(name: str) -> str:
    """Where the demo server serves a sample photo."""
    if name not in SCENES:
        raise KeyError(name)
    return f"/demo/images/{name}.png"
