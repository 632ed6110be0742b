"""The platform-neutral records: `Update`, `Image`, `Destination`, and their one JSON codec.

Limits chosen for an update (documented in README "Update fields"):
- `id`: 1-64 characters of `A-Z a-z 0-9 _ - .`; chosen by the editor or the CMS, or generated.
- `headline`: 1-256 characters (Discord's embed title limit), one line.
- `body`: up to 10,000 characters of the Markdown subset (paragraphs, **bold**, _italic_,
  [links](https://…), `> quotes`); longer updates are split by the adapters.
- `author`: up to 100 characters; image `caption` up to 1,024, `credit` up to 200.
- `link` and `image.url`: absolute http(s) URLs of at most 2,048 characters.
A `delete` carries only `id` and `topic`; its headline and body may be empty.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from relay.errors import InvalidUpdate

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_HEADLINE = 256
MAX_BODY = 10_000
MAX_AUTHOR = 100
MAX_CAPTION = 1024
MAX_CREDIT = 200
MAX_URL = 2048


class Action(StrEnum):
    """What an update asks of every copy: publish it, edit it, or delete it."""

    PUBLISH = "publish"
    EDIT = "edit"
    DELETE = "delete"


@dataclass(frozen=True)
class Image:
    """A photo with its caption and credit line."""

    url: str
    caption: str = ""
    credit: str = ""


@dataclass(frozen=True)
class Update:
    """One live-blog entry at one revision: the only record every layer passes around."""

    id: str
    topic: str
    action: Action = Action.PUBLISH
    revision: int = 1
    headline: str = ""
    body: str = ""
    link: str | None = None
    image: Image | None = None
    breaking: bool = False
    author: str = ""
    published_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def with_revision(self, revision: int, action: Action) -> Update:
        return replace(self, revision=revision, action=action)


def new_update_id() -> str:
    """A fresh id: time-ordered prefix plus randomness, URL- and command-safe."""
    return f"{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True, order=True)
class Destination:
    """Where a copy goes: `(platform, chat id[, thread id])`, written `platform:chat[:thread]`."""

    platform: str
    chat_id: str
    thread_id: str | None = None

    def __str__(self) -> str:
        base = f"{self.platform}:{self.chat_id}"
        return f"{base}:{self.thread_id}" if self.thread_id else base

    @classmethod
    def parse(cls, text: str) -> Destination:
        parts = text.strip().split(":")
        if len(parts) not in (2, 3) or not all(parts) or not parts[0].isalpha():
            raise InvalidUpdate("destination", f"expected platform:chat[:thread], got {text!r}")
        return cls(parts[0].lower(), parts[1], parts[2] if len(parts) == 3 else None)


def check_url(field_name: str, value: str) -> str:
    """Return `value` if it is an absolute http(s) URL, else raise naming the field."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidUpdate(field_name, f"must be an absolute http(s) URL, got {value!r}")
    if len(value) > MAX_URL or any(c.isspace() for c in value):
        raise InvalidUpdate(field_name, f"must be a URL of at most {MAX_URL} characters")
    return value


def _check_len(field_name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidUpdate(field_name, f"must be at most {limit} characters, got {len(value)}")


def validate(update: Update) -> Update:
    """Check every field of `update`; raise `InvalidUpdate` naming the first bad one."""
    if not ID_PATTERN.match(update.id):
        raise InvalidUpdate("id", "must be 1-64 characters of letters, digits, '_', '-' or '.'")
    if not SLUG_PATTERN.match(update.topic):
        raise InvalidUpdate("topic", f"not a topic slug: {update.topic!r}")
    if update.revision < 1:
        raise InvalidUpdate("revision", "must be a positive integer")
    if update.action is not Action.DELETE:
        if not update.headline.strip():
            raise InvalidUpdate("headline", "must not be empty")
        if "\n" in update.headline or "\r" in update.headline:
            raise InvalidUpdate("headline", "must be a single line")
    _check_len("headline", update.headline, MAX_HEADLINE)
    _check_len("body", update.body, MAX_BODY)
    _check_len("author", update.author, MAX_AUTHOR)
    if update.link is not None:
        check_url("link", update.link)
    if update.image is not None:
        check_url("image.url", update.image.url)
        _check_len("image.caption", update.image.caption, MAX_CAPTION)
        _check_len("image.credit", update.image.credit, MAX_CREDIT)
    if update.published_at.tzinfo is None:
        raise InvalidUpdate("published_at", "must carry a time zone")
    return update


def to_dict(update: Update) -> dict[str, Any]:
    """The JSON shape of an update, used by the stream, the HTTP API and the CLI."""
    data: dict[str, Any] = {
        "id": update.id,
        "topic": update.topic,
        "action": update.action.value,
        "revision": update.revision,
        "headline": update.headline,
        "body": update.body,
        "link": update.link,
        "image": (
            None
            if update.image is None
            else {
                "url": update.image.url,
                "caption": update.image.caption,
                "credit": update.image.credit,
            }
        ),
        "breaking": update.breaking,
        "author": update.author,
        "published_at": update.published_at.isoformat(),
    }
    return data


def encode(update: Update) -> str:
    """Serialise an update to compact JSON."""
    return json.dumps(to_dict(update), ensure_ascii=False, separators=(",", ":"))


_FIELDS = {
    "id", "topic", "action", "revision", "headline", "body", "link", "image", "breaking",
    "author", "published_at",
}  # fmt: skip
_IMAGE_FIELDS = {"url", "caption", "credit"}


def _str(data: dict[str, Any], key: str, default: str = "", prefix: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise InvalidUpdate(prefix + key, f"must be a string, got {type(value).__name__}")
    return value


def from_dict(data: Any, *, generate_id: bool = False) -> Update:
    """Parse and validate the JSON shape; raise `InvalidUpdate` naming the bad field."""
    if not isinstance(data, dict):
        raise InvalidUpdate("update", "must be a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidUpdate(unknown[0], "unknown field")
    update_id = _str(data, "id")
    if not update_id and generate_id:
        update_id = new_update_id()
    try:
        action = Action(_str(data, "action", "publish"))
    except ValueError:
        raise InvalidUpdate("action", "must be one of publish, edit, delete") from None
    revision = data.get("revision", 1)
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise InvalidUpdate("revision", "must be an integer")
    breaking = data.get("breaking", False)
    if not isinstance(breaking, bool):
        raise InvalidUpdate("breaking", "must be true or false")
    link = data.get("link")
    if link is not None and not isinstance(link, str):
        raise InvalidUpdate("link", "must be a string")
    image = None
    raw_image = data.get("image")
    if raw_image is not None:
        if not isinstance(raw_image, dict):
            raise InvalidUpdate("image", "must be an object with url, caption, credit")
        bad = sorted(set(raw_image) - _IMAGE_FIELDS)
        if bad:
            raise InvalidUpdate(f"image.{bad[0]}", "unknown field")
        image = Image(
            url=_str(raw_image, "url", prefix="image."),
            caption=_str(raw_image, "caption", prefix="image."),
            credit=_str(raw_image, "credit", prefix="image."),
        )
    published_raw = data.get("published_at")
    if published_raw is None:
        published_at = datetime.now(UTC)
    else:
        if not isinstance(published_raw, str):
            raise InvalidUpdate("published_at", "must be an ISO 8601 string")
        try:
            published_at = datetime.fromisoformat(published_raw)
        except ValueError:
            raise InvalidUpdate("published_at", "must be an ISO 8601 date-time") from None
    update = Update(
        id=update_id,
        topic=_str(data, "topic"),
        action=action,
        revision=revision,
        headline=_str(data, "headline"),
        body=_str(data, "body"),
        link=link or None,
        image=image,
        breaking=breaking,
        author=_str(data, "author"),
        published_at=published_at,
    )
    return validate(update)


def decode(raw: str | bytes) -> Update:
    """Parse JSON text into a validated update."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidUpdate("update", f"not valid JSON: {exc}") from exc
    return from_dict(data)
