"""The `media` section: the bounds of the media store (`relay.media`).

`max_image_mb` is the largest photo an editor may send from a chat (Telegram takes uploads of up
to 10 MB by a bot, and serves a bot files of up to 20 MB); `max_total_mb` bounds all the photos
kept at once, each for `dispatcher.ledger_ttl_days`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from relay.settings import Rule

Megabytes = Annotated[float, Rule("a positive number of megabytes", test=lambda x: x > 0)]


@dataclass(frozen=True)
class MediaConfig:
    """How much the media store keeps."""

    max_image_mb: Megabytes = 10.0
    max_total_mb: Megabytes = 200.0
