"""The platform-neutral records: `Update`, `Image`, `Destination`, and their one JSON codec.

Limits chosen for an update (documented in README "Update fields"):
- `id`: 1-64 characters of `A-Z a-z 0-9 _ - .`, one at least a letter or digit (not `..`);
  chosen by the editor or the CMS, or generated.
- `headline`: 1-256 characters (Discord's embed title limit), one line, with visible text.
- `body`: up to 10,000 characters of the Markdown subset (paragraphs, **bold**, _italic_,
  [links](https://…), `> quotes`); longer updates are split by the adapters.
- `author`: up to 100 characters; image `caption` up to 1,024, `credit` up to 200.
- `link` and `image.url`: absolute http(s) URLs of at most 2,048 characters.
- No control characters (a console obeys ESC) but tabs, and line breaks in body and caption.
A `delete` carries only `id` and `topic`; its headline and body may be empty.

Each content field has one parser (`CONTENT`), used by the codec, by `validate` and by
`relay.changes.Changes`, so a value valid in a publish is valid in an edit and the other way
round. JSON `null` means "none" and is accepted only where a field can be absent: `link` and
`image` (no link, no photo), and in a publish `id` (generate one) and `published_at` (now).
Strings must be strings (send `""` to empty a body or an author); `breaking` must be a boolean.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NoReturn
from urllib.parse import urlsplit

from relay.chars import clean, visible
from relay.errors import InvalidUpdate
from relay.i18n import N_

# \Z, not $: `$` also matches before a final newline, and "u-1\n" is not an id
ID_PATTERN = re.compile(r"(?=[_.-]*[A-Za-z0-9])[A-Za-z0-9_.-]{1,64}\Z")
SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}\Z")
WHITESPACE = re.compile(r"\s")  # what str.isspace() finds, at C speed: URLs are parsed often
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


_NAME = (re.compile(r"(?=[_.-]*[A-Za-z0-9])[A-Za-z0-9_.-]{1,64}\Z"),
         "a name of letters, digits, '_', '-' or '.'")  # fmt: skip
CHAT_IDS = {  # platform: (pattern of its chat ids, what the pattern means)
    "telegram": (re.compile(r"(?:-?[1-9][0-9]{0,19}|@[A-Za-z][A-Za-z0-9_]{3,31})\Z"),
                 "an integer like -1001234567890, or @username"),
    "discord": (re.compile(r"[1-9][0-9]{0,19}\Z"), "a channel id (a snowflake: digits)"),
    "console": _NAME,
    "memory": _NAME,  # the test double
}  # fmt: skip
THREAD_ID = re.compile(r"[1-9][0-9]{0,19}\Z")


@dataclass(frozen=True, order=True)
class Destination:
    """Where a copy goes: `(platform, chat id[, thread id])`, written `platform:chat[:thread]`.

    Valid by construction (a known platform, a chat id of its shape, a positive thread id), so
    `str` and `parse` round-trip and no bad destination is ever stored.
    """

    platform: str
    chat_id: str
    thread_id: str | None = None

    def __post_init__(self) -> None:
        shape = CHAT_IDS.get(self.platform) if isinstance(self.platform, str) else None
        if shape is None:
            _refuse("platform", f"one of {', '.join(CHAT_IDS)}", self.platform)
        elif not isinstance(self.chat_id, str) or not shape[0].match(self.chat_id):
            _refuse("chat", shape[1], self.chat_id)
        elif self.thread_id is not None and not (
            isinstance(self.thread_id, str) and THREAD_ID.match(self.thread_id)
        ):
            _refuse("thread", "a positive integer", self.thread_id)

    def __str__(self) -> str:
        base = f"{self.platform}:{self.chat_id}"
        return f"{base}:{self.thread_id}" if self.thread_id else base

    @classmethod
    def parse(cls, text: str) -> Destination:
        """Read `platform:chat[:thread]` (a config value, a stored key); raise naming the part."""
        parts = text.strip().split(":")
        if len(parts) not in (2, 3):
            _refuse("destination", "platform:chat[:thread]", text)
        return cls(parts[0].lower(), parts[1], parts[2] if len(parts) == 3 else None)


def _refuse(part: str, expected: str, value: object) -> NoReturn:
    shown = repr(value)  # cut short: an error must not echo a megabyte back
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise InvalidUpdate(part, N_("must be {expected}, got {value}"), expected=expected, value=shown)


def _type_name(value: object) -> str:
    """The JSON name of a value's type, for errors a CMS developer reads."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    for kind, name in ((str, "a string"), ((int, float), "a number"), (list, "an array")):
        if isinstance(value, kind):
            return name
    return "an object" if isinstance(value, dict) else type(value).__name__


def text_field(field_name: str, value: object, limit: int, *, lines: bool = False) -> str:
    """`value` if it is a string of at most `limit` characters that UTF-8 can encode, with no
    control character (but a tab, and line breaks where `lines`, read as LF)."""
    if not isinstance(value, str):
        raise InvalidUpdate(field_name, N_("must be a string, got {kind}"), kind=_type_name(value))
    if len(value) > limit:
        raise InvalidUpdate(field_name, N_("must be at most {limit} characters, got {count}"),
                            limit=limit, count=len(value))  # fmt: skip
    return clean(field_name, value, lines=lines)


NOT_A_URL = N_("must be an absolute http(s) URL, got {value!r}")


def check_url(field_name: str, value: object) -> str:
    """Return `value` if it is an absolute http(s) URL, else raise naming the field."""
    value = text_field(field_name, value, MAX_URL, lines=True)  # a break is refused below
    try:
        parts = urlsplit(value)
    except ValueError:  # "http://0[": an unclosed IPv6 bracket
        raise InvalidUpdate(field_name, NOT_A_URL, value=value) from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidUpdate(field_name, NOT_A_URL, value=value)
    if WHITESPACE.search(value):
        raise InvalidUpdate(field_name, N_("must not contain spaces or line breaks"))
    return value


def parse_headline(value: object) -> str:
    """One line of at most `MAX_HEADLINE` characters (empty only in a delete: see `validate`)."""
    headline = text_field("headline", value, MAX_HEADLINE)
    if headline.strip() and not visible(headline):  # blank: "must not be empty" (`_checked`)
        raise InvalidUpdate("headline", N_("must contain visible text"))
    return headline


def parse_body(value: object) -> str:
    return text_field("body", value, MAX_BODY, lines=True)


def parse_author(value: object) -> str:
    return text_field("author", value, MAX_AUTHOR)


def signature(name: str) -> str:
    """The author a chat user's display name signs a post as; "" if it is no valid author (a
    control character in it, say): such a post goes unsigned rather than refused."""
    try:
        return parse_author(name.strip())
    except InvalidUpdate:
        return ""


def parse_breaking(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidUpdate("breaking", N_("must be true or false, got {kind}"),
                            kind=_type_name(value))  # fmt: skip
    return value


def parse_link(value: object) -> str | None:
    """A URL, or None for no link; `""` also means no link (an emptied form field)."""
    if value is None or value == "":
        return None
    return check_url("link", value)


_IMAGE_FIELDS = ("url", "caption", "credit")


def parse_image(value: object) -> Image | None:
    """An `Image`, from one or from its JSON object; None for no photo."""
    if value is None:
        return None
    if isinstance(value, Image):
        parts: Mapping[str, object] = {k: getattr(value, k) for k in _IMAGE_FIELDS}
    elif isinstance(value, dict):
        bad = sorted(set(value) - set(_IMAGE_FIELDS))
        if bad:
            raise InvalidUpdate(f"image.{bad[0]}", UNKNOWN_FIELD)
        parts = value
    else:
        raise InvalidUpdate("image", N_("must be an object with url, caption, credit"))
    image = Image(
        url=check_url("image.url", parts.get("url", "")),
        caption=text_field("image.caption", parts.get("caption", ""), MAX_CAPTION, lines=True),
        credit=text_field("image.credit", parts.get("credit", ""), MAX_CREDIT),
    )
    return value if isinstance(value, Image) and image == value else image


# the fields an editor writes (and may edit), each with its one parser
CONTENT: dict[str, Callable[[object], Any]] = {
    "headline": parse_headline, "body": parse_body, "link": parse_link, "image": parse_image,
    "breaking": parse_breaking, "author": parse_author,
}  # fmt: skip


def validate(update: Update) -> Update:
    """Check every field of `update`; raise `InvalidUpdate` naming the first bad one."""
    content = {name: parse(getattr(update, name)) for name, parse in CONTENT.items()}
    # replace() only for what a parser normalised (a "" link): it costs more than the checks
    changed = {name: v for name, v in content.items() if v is not getattr(update, name)}
    return _checked(replace(update, **changed) if changed else update)


UNKNOWN_FIELD = N_("unknown field")
NOT_A_SLUG = N_("not a topic slug: {topic!r}")
EMPTY = N_("must not be empty")


def _checked(update: Update) -> Update:
    """`update`, whose content fields are parsed, if its other fields are valid."""
    if not isinstance(update.id, str) or not ID_PATTERN.match(update.id):
        why = N_(
            "must be 1-64 characters of letters, digits, '_', '-' or '.', with a letter or digit"
        )
        raise InvalidUpdate("id", why)
    if not isinstance(update.topic, str) or not SLUG_PATTERN.match(update.topic):
        raise InvalidUpdate("topic", NOT_A_SLUG, topic=update.topic)
    if update.revision < 1:
        raise InvalidUpdate("revision", "must be a positive integer")
    if update.action is not Action.DELETE and not update.headline.strip():
        raise InvalidUpdate("headline", EMPTY)
    if update.published_at.tzinfo is None:
        raise InvalidUpdate("published_at", "must carry a time zone")
    return update


def image_dict(image: Image | None) -> dict[str, str] | None:
    """The JSON shape of a photo (None for none)."""
    return None if image is None else {"url": image.url, "caption": image.caption,
                                       "credit": image.credit}  # fmt: skip


def to_dict(update: Update) -> dict[str, Any]:
    """The JSON shape of an update, used by the stream, the HTTP API and the CLI."""
    return {
        "id": update.id, "topic": update.topic, "action": update.action.value,
        "revision": update.revision, "headline": update.headline, "body": update.body,
        "link": update.link, "image": image_dict(update.image), "breaking": update.breaking,
        "author": update.author, "published_at": update.published_at.isoformat(),
    }  # fmt: skip


def encode(update: Update) -> str:
    """Serialise an update to compact JSON."""
    return json.dumps(to_dict(update), ensure_ascii=False, separators=(",", ":"))


FIELDS = (
    "id", "topic", "action", "revision", "headline", "body", "link", "image", "breaking",
    "author", "published_at",
)  # fmt: skip


def _optional_str(data: dict[str, Any], key: str, default: str) -> str:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidUpdate(key, f"must be a string, got {_type_name(value)}")
    return value


def from_dict(data: Any, *, generate_id: bool = False) -> Update:
    """Parse and validate the JSON shape; raise `InvalidUpdate` naming the bad field."""
    if not isinstance(data, dict):
        raise InvalidUpdate("update", "must be a JSON object")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidUpdate(unknown[0], UNKNOWN_FIELD)
    update_id = _optional_str(data, "id", "")
    if not update_id and generate_id:
        update_id = new_update_id()
    try:
        action = Action(_optional_str(data, "action", "publish"))
    except ValueError:
        raise InvalidUpdate("action", "must be one of publish, edit, delete") from None
    revision = data.get("revision", 1)
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise InvalidUpdate("revision", "must be an integer")
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
    content = {name: parse(data[name]) for name, parse in CONTENT.items() if name in data}
    # the content fields absent from `data` keep their (valid) defaults
    topic = _optional_str(data, "topic", "")
    return _checked(Update(id=update_id, topic=topic, action=action, revision=revision,
                           published_at=published_at, **content))  # fmt: skip


def decode(raw: str | bytes) -> Update:
    """Parse JSON text into a validated update."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidUpdate("update", f"not valid JSON: {exc}") from exc
    return from_dict(data)
