"""The table of REST endpoints the emulator serves, with the body fields it validates.

Field paths use `.` for object keys and `[]` for array items (`embeds[].footer.text`; a body
that is itself an array starts with `[]`). A test checks every row against the official
OpenAPI spec; where the spec disagrees with the documentation, `spec_max` records the spec's
value and `note` says why the emulator follows the docs instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One validated body field: JSON type(s), length limits, whether required."""

    path: str
    types: tuple[str, ...]
    max_length: int | None = None
    min_length: int | None = None
    required: bool = False
    spec_max: int | None = None
    note: str = ""


@dataclass(frozen=True)
class Endpoint:
    """One served route: name (used by buckets and faults), method, path template, fields."""

    name: str
    method: str
    template: str
    fields: tuple[Field, ...] = ()
    auth: str = "bot"  # "bot": Authorization: Bot <token>; "none": the URL carries a token
    bucket: str = "default"
    global_limit: bool = True


_DOCS_2000 = "DDOCS message.mdx: content up to 2000 characters; DSPEC says 4000 (known gap)"


def _s(path: str, max_length: int | None = None, **kw: object) -> Field:
    return Field(path, ("string",), max_length, **kw)  # type: ignore[arg-type]


def _embed_fields(prefix: str) -> tuple[Field, ...]:
    e = f"{prefix}embeds[]"
    return (
        Field(f"{prefix}embeds", ("array",), 10),
        _s(f"{e}.title", 256),
        _s(f"{e}.description", 4096),
        _s(f"{e}.url", 2048),
        Field(f"{e}.color", ("integer",)),
        _s(f"{e}.timestamp"),
        Field(f"{e}.fields", ("array",), 25),
        _s(f"{e}.fields[].name", 256, required=True),
        _s(f"{e}.fields[].value", 1024, required=True),
        Field(f"{e}.fields[].inline", ("boolean",)),
        _s(f"{e}.footer.text", 2048),
        _s(f"{e}.footer.icon_url", 2048),
        _s(f"{e}.author.name", 256),
        _s(f"{e}.author.url", 2048),
        _s(f"{e}.image.url", 2048),
        _s(f"{e}.thumbnail.url", 2048),
    )


def _mention_fields(prefix: str) -> tuple[Field, ...]:
    a = f"{prefix}allowed_mentions"
    return (
        Field(a, ("object",)),
        Field(f"{a}.parse", ("array",)),
        Field(f"{a}.users", ("array",), 100),
        Field(f"{a}.roles", ("array",), 100),
        Field(f"{a}.replied_user", ("boolean",)),
    )


def _message_fields(prefix: str = "", *, content_spec_max: int | None = None) -> tuple[Field, ...]:
    content = (
        _s(f"{prefix}content", 2000, spec_max=content_spec_max, note=_DOCS_2000)
        if content_spec_max
        else _s(f"{prefix}content", 2000)
    )
    return (
        content,
        *_embed_fields(prefix),
        *_mention_fields(prefix),
        Field(f"{prefix}flags", ("integer",)),
        Field(f"{prefix}components", ("array",), 40),
        Field(f"{prefix}attachments", ("array",), 10),
    )


CREATE_MESSAGE_FIELDS = (
    *_message_fields(content_spec_max=4000),
    Field("nonce", ("string", "integer"), 25, note="a string nonce is at most 25 characters"),
    Field("enforce_nonce", ("boolean",)),
    Field("tts", ("boolean",)),
    Field("sticker_ids", ("array",), 3),
    Field("message_reference", ("object",)),
)
EDIT_MESSAGE_FIELDS = _message_fields(content_spec_max=4000)
FORUM_THREAD_FIELDS = (
    _s("name", 100, min_length=1, required=True),
    Field("auto_archive_duration", ("integer",)),
    Field("rate_limit_per_user", ("integer",)),
    Field("applied_tags", ("array",), 5),
    Field("message", ("object",), required=True),
    *_message_fields("message.", content_spec_max=4000),
)
WEBHOOK_EXECUTE_FIELDS = (
    *_message_fields(),
    Field("tts", ("boolean",)),
    _s("username", 80, min_length=1),
    _s("avatar_url", 2048),
    _s("thread_name", 100, min_length=0),
)
WEBHOOK_EDIT_FIELDS = _message_fields()
CALLBACK_DATA_FIELDS = _message_fields()  # `data` of a message response, validated on its own
CALLBACK_FIELDS = (
    Field("type", ("integer",), required=True),
    Field("data", ("object",)),
    *_message_fields("data."),
)
COMMANDS_FIELDS = (
    _s("[].name", 32, min_length=1, required=True),
    _s("[].description", 100),
    Field("[].options", ("array",), 25),
    Field("[].type", ("integer",)),
    Field("[].dm_permission", ("boolean",)),
    Field("[].name_localizations", ("object",)),
    Field("[].description_localizations", ("object",)),
)

_CH = "/channels/{channel_id}"
_MSG = _CH + "/messages/{message_id}"
_WH = "/webhooks/{webhook_id}/{webhook_token}"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("get_me", "GET", "/users/@me"),
    Endpoint("get_application", "GET", "/oauth2/applications/@me"),
    Endpoint("get_gateway", "GET", "/gateway", auth="none"),
    Endpoint("get_gateway_bot", "GET", "/gateway/bot"),
    Endpoint("get_channel", "GET", _CH),
    Endpoint("create_message", "POST", _CH + "/messages", CREATE_MESSAGE_FIELDS, bucket="create"),
    Endpoint("list_messages", "GET", _CH + "/messages"),
    Endpoint("get_message", "GET", _MSG),
    Endpoint("edit_message", "PATCH", _MSG, EDIT_MESSAGE_FIELDS, bucket="edit"),
    Endpoint("delete_message", "DELETE", _MSG, bucket="delete"),
    Endpoint("crosspost_message", "POST", _MSG + "/crosspost", bucket="crosspost"),
    Endpoint("create_forum_post", "POST", _CH + "/threads", FORUM_THREAD_FIELDS),
    Endpoint(
        "put_global_commands", "PUT", "/applications/{application_id}/commands", COMMANDS_FIELDS
    ),
    Endpoint("get_global_commands", "GET", "/applications/{application_id}/commands"),
    Endpoint(
        "put_guild_commands",
        "PUT",
        "/applications/{application_id}/guilds/{guild_id}/commands",
        COMMANDS_FIELDS,
    ),
    Endpoint(
        "get_guild_commands", "GET", "/applications/{application_id}/guilds/{guild_id}/commands"
    ),
    Endpoint(
        "interaction_callback",
        "POST",
        "/interactions/{interaction_id}/{interaction_token}/callback",
        CALLBACK_FIELDS,
        auth="none",
        bucket="interaction",
        global_limit=False,
    ),
    Endpoint("execute_webhook", "POST", _WH, WEBHOOK_EXECUTE_FIELDS, auth="none", bucket="webhook"),
    Endpoint("get_original", "GET", _WH + "/messages/@original", auth="none", bucket="webhook"),
    Endpoint(
        "edit_original",
        "PATCH",
        _WH + "/messages/@original",
        WEBHOOK_EDIT_FIELDS,
        auth="none",
        bucket="webhook",
    ),
    Endpoint(
        "delete_original", "DELETE", _WH + "/messages/@original", auth="none", bucket="webhook"
    ),
    Endpoint(
        "get_webhook_message", "GET", _WH + "/messages/{message_id}", auth="none", bucket="webhook"
    ),
    Endpoint(
        "edit_webhook_message",
        "PATCH",
        _WH + "/messages/{message_id}",
        WEBHOOK_EDIT_FIELDS,
        auth="none",
        bucket="webhook",
    ),
    Endpoint(
        "delete_webhook_message",
        "DELETE",
        _WH + "/messages/{message_id}",
        auth="none",
        bucket="webhook",
    ),
)

BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS}
