"""The text form of an editor's update: `<headline>\\n<body>[\\nLink: https://…]`, as /post,
/preview and /edit take it in a chat."""

from __future__ import annotations

import re

from relay.changes import UNSET, Changes
from relay.model import Image, check_url

LINK_LINE = re.compile(r"^(?:link|read|read more)\s*:\s*(\S+)\s*$", re.IGNORECASE)


def text_changes(text: str, image: Image | None) -> Changes | None:
    """The edit `<new headline>\n[<new body>][\nLink: …]` asks for; None without a headline.

    A body or link left out stays as it is; a photo sent with the command replaces the old.
    """
    headline, _, rest = text.strip().partition("\n")
    if not headline.strip():
        return None
    body, link = split_link(rest) if rest.strip() else (UNSET, None)
    return Changes(
        headline=headline.strip(), body=body, link=UNSET if link is None else link,
        image=UNSET if image is None else image,
    )  # fmt: skip


def split_link(text: str) -> tuple[str, str | None]:
    """Separate a trailing `Link: https://…` line from the body."""
    lines = text.strip().splitlines()
    if lines:
        match = LINK_LINE.match(lines[-1].strip())
        if match:
            return "\n".join(lines[:-1]).strip(), check_url("link", match.group(1))
    return text.strip(), None
