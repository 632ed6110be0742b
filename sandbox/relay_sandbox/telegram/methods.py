"""The Bot API methods the sandbox serves: each parameter with its types and required flag."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    """One method parameter, typed as the official spec spells it (e.g. ``Integer|String``)."""

    name: str
    types: tuple[str, ...]
    required: bool = False


@dataclass(frozen=True)
class Method:
    """One served method: its canonical name and parameters in spec order."""

    name: str
    params: tuple[Param, ...]

    def param(self, name: str) -> Param | None:
        """The parameter called ``name``, if the method has one."""
        for p in self.params:
            if p.name == name:
                return p
        return None


def _p(name: str, types: str, required: bool = False) -> Param:
    return Param(name, tuple(types.split("|")), required)


_MARKUP = "InlineKeyboardMarkup|ReplyKeyboardMarkup|ReplyKeyboardRemove|ForceReply"
_CHAT = _p("chat_id", "Integer|String", True)
_BIZ = _p("business_connection_id", "String")
_THREAD = (_p("message_thread_id", "Integer"), _p("direct_messages_topic_id", "Integer"))
_SILENT = (
    _p("disable_notification", "Boolean"),
    _p("protect_content", "Boolean"),
    _p("allow_paid_broadcast", "Boolean"),
    _p("message_effect_id", "String"),
)
_SCOPE = (_p("scope", "BotCommandScope"), _p("language_code", "String"))
_EDIT_TARGET = (
    _BIZ,
    _p("chat_id", "Integer|String"),
    _p("message_id", "Integer"),
    _p("inline_message_id", "String"),
)
_MEDIA = "|".join(
    f"Array of InputMedia{kind}" for kind in ("Audio", "Document", "LivePhoto", "Photo", "Video")
)

_TABLE: tuple[Method, ...] = (
    Method("getMe", ()),
    Method("logOut", ()),
    Method("close", ()),
    Method(
        "setWebhook",
        (
            _p("url", "String", True),
            _p("certificate", "InputFile"),
            _p("ip_address", "String"),
            _p("max_connections", "Integer"),
            _p("allowed_updates", "Array of String"),
            _p("drop_pending_updates", "Boolean"),
            _p("secret_token", "String"),
        ),
    ),
    Method("deleteWebhook", (_p("drop_pending_updates", "Boolean"),)),
    Method("getWebhookInfo", ()),
    Method(
        "getUpdates",
        (
            _p("offset", "Integer"),
            _p("limit", "Integer"),
            _p("timeout", "Integer"),
            _p("allowed_updates", "Array of String"),
        ),
    ),
    Method("setMyCommands", (_p("commands", "Array of BotCommand", True), *_SCOPE)),
    Method("getMyCommands", _SCOPE),
    Method("deleteMyCommands", _SCOPE),
    Method("getChat", (_CHAT,)),
    Method("getFile", (_p("file_id", "String", True),)),
    Method("getChatMember", (_CHAT, _p("user_id", "Integer", True))),
    Method("getChatAdministrators", (_CHAT, _p("return_bots", "Boolean"))),
    Method(
        "sendMessage",
        (
            _BIZ,
            _CHAT,
            *_THREAD,
            _p("text", "String", True),
            _p("parse_mode", "String"),
            _p("entities", "Array of MessageEntity"),
            _p("link_preview_options", "LinkPreviewOptions"),
            *_SILENT,
            _p("suggested_post_parameters", "SuggestedPostParameters"),
            _p("reply_parameters", "ReplyParameters"),
            _p("reply_markup", _MARKUP),
        ),
    ),
    Method(
        "sendPhoto",
        (
            _BIZ,
            _CHAT,
            *_THREAD,
            _p("photo", "InputFile|String", True),
            _p("caption", "String"),
            _p("parse_mode", "String"),
            _p("caption_entities", "Array of MessageEntity"),
            _p("show_caption_above_media", "Boolean"),
            _p("has_spoiler", "Boolean"),
            *_SILENT,
            _p("suggested_post_parameters", "SuggestedPostParameters"),
            _p("reply_parameters", "ReplyParameters"),
            _p("reply_markup", _MARKUP),
        ),
    ),
    Method(
        "sendMediaGroup",
        (
            _BIZ,
            _CHAT,
            *_THREAD,
            _p("media", _MEDIA, True),
            *_SILENT,
            _p("reply_parameters", "ReplyParameters"),
        ),
    ),
    Method(
        "editMessageText",
        (
            *_EDIT_TARGET,
            _p("text", "String"),
            _p("parse_mode", "String"),
            _p("entities", "Array of MessageEntity"),
            _p("link_preview_options", "LinkPreviewOptions"),
            _p("rich_message", "InputRichMessage"),
            _p("reply_markup", "InlineKeyboardMarkup"),
        ),
    ),
    Method(
        "editMessageCaption",
        (
            *_EDIT_TARGET,
            _p("caption", "String"),
            _p("parse_mode", "String"),
            _p("caption_entities", "Array of MessageEntity"),
            _p("show_caption_above_media", "Boolean"),
            _p("reply_markup", "InlineKeyboardMarkup"),
        ),
    ),
    Method(
        "editMessageMedia",
        (
            *_EDIT_TARGET,
            _p("media", "InputMedia", True),
            _p("reply_markup", "InlineKeyboardMarkup"),
        ),
    ),
    Method("deleteMessage", (_CHAT, _p("message_id", "Integer", True))),
    Method(
        "pinChatMessage",
        (_BIZ, _CHAT, _p("message_id", "Integer", True), _p("disable_notification", "Boolean")),
    ),
    Method("unpinChatMessage", (_BIZ, _CHAT, _p("message_id", "Integer"))),
    Method(
        "answerCallbackQuery",
        (
            _p("callback_query_id", "String", True),
            _p("text", "String"),
            _p("show_alert", "Boolean"),
            _p("url", "String"),
            _p("cache_time", "Integer"),
        ),
    ),
)

#: Served methods keyed by lower-cased name: the Bot API treats method names case-insensitively.
METHODS: dict[str, Method] = {m.name.lower(): m for m in _TABLE}


def lookup(name: str) -> Method | None:
    """The served method called ``name`` (any letter case), if any."""
    return METHODS.get(name.lower())
