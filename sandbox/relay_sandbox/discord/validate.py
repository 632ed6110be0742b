"""Body validation: the endpoint table's fields plus the documented rules the spec lacks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from relay_sandbox.discord import errors
from relay_sandbox.discord.endpoints import Field

EMBED_TOTAL_MAX = 6000
# Every URL an embed carries; DSPEC types them `format: uri`, and Discord takes http(s) only
# (images and icons may also name an upload, `attachment://<file name>`).
EMBED_URLS = (("url",), ("author", "url"), ("author", "icon_url"), ("footer", "icon_url"),
              ("image", "url"), ("thumbnail", "url"), ("video", "url"))  # fmt: skip
_MEDIA = frozenset({"image", "thumbnail", "footer", "video"}) | {"icon_url"}
_PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
_HOST = r"(?P<host>\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)"
_USER = r"(?:(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*@)?"
# RFC 3986 `absolute-URI` with an authority, ASCII only: no IRI, no space, no " < > | { } ^ `.
_URI = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.-]*://{_USER}{_HOST}(?::[0-9]*)?(?:/{_PCHAR}*)*"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
_TYPE_ERRORS = {
    "string": ("BASE_TYPE_STRING", "Must be a string."),
    "integer": ("NUMBER_TYPE_COERCE", "Value is not int."),
    "boolean": ("BASE_TYPE_BOOLEAN", "Must be either true or false."),
    "array": ("BASE_TYPE_ARRAY", "Must be an array."),
    "object": ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"),
}


class FormErrors:
    """Collects errors nested by field path, in Discord's `{"a": {"0": {"_errors": []}}}` form."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: tuple[str, ...], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def raise_if_any(self) -> None:
        if self.tree:
            raise errors.form_errors(self.tree)


def _split(path: str) -> list[str]:
    parts: list[str] = []
    for chunk in path.split("."):
        while chunk.endswith("[]") or chunk.startswith("[]"):
            if chunk.startswith("[]"):
                parts.append("[]")
                chunk = chunk[2:]
            else:
                name = chunk[:-2]
                if name:
                    parts.append(name)
                parts.append("[]")
                chunk = ""
        if chunk:
            parts.append(chunk)
    return parts


def _values(
    node: Any, parts: list[str], at: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every value found at the path, with its concrete path (array items numbered)."""
    if not parts:
        yield at, node
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from _values(item, rest, (*at, str(i)))
        return
    if isinstance(node, dict) and node.get(head) is not None:
        yield from _values(node[head], rest, (*at, head))
    elif isinstance(node, dict) and head not in node and not rest:
        yield (*at, head), _MISSING


_MISSING = object()


def _type_ok(value: Any, types: tuple[str, ...]) -> bool:
    for t in types:
        if isinstance(value, bool) and t != "boolean":
            continue
        if isinstance(value, _PY_TYPES[t]):
            return True
    return False


def check_fields(
    body: Any, fields: tuple[Field, ...], errs: FormErrors, prefix: tuple[str, ...] = ()
) -> None:
    """Check types, lengths and required flags of the table's fields."""
    for f in fields:
        for path, value in _values(body, _split(f.path), prefix):
            if value is _MISSING:
                if f.required:
                    errs.add(path, "BASE_TYPE_REQUIRED", "This field is required")
                continue
            if not _type_ok(value, f.types):
                errs.add(path, *_TYPE_ERRORS[f.types[0]])
                continue
            if isinstance(value, str | list):
                if f.max_length is not None and len(value) > f.max_length:
                    errs.add(
                        path, "BASE_TYPE_MAX_LENGTH", f"Must be {f.max_length} or fewer in length."
                    )
                if f.min_length is not None and len(value) < f.min_length:
                    errs.add(
                        path, "BASE_TYPE_MIN_LENGTH", f"Must be {f.min_length} or more in length."
                    )


def embed_text_total(embeds: list[Any]) -> int:
    """The characters DDOCS counts towards the 6000 limit, whitespace-trimmed."""
    total = 0
    for e in embeds:
        if not isinstance(e, dict):
            continue
        for key in ("title", "description"):
            total += len(str(e.get(key) or "").strip())
        for sub, key in (("footer", "text"), ("author", "name")):
            part = e.get(sub)
            if isinstance(part, dict):
                total += len(str(part.get(key) or "").strip())
        for fld in e.get("fields") or []:
            if isinstance(fld, dict):
                total += len(str(fld.get("name") or "").strip())
                total += len(str(fld.get("value") or "").strip())
    return total


def check_message_rules(
    body: dict[str, Any], errs: FormErrors, *, prefix: tuple[str, ...] = ()
) -> None:
    """Documented rules the spec lacks: the 6000 embed total, allowed_mentions exclusivity, and
    embed URLs that are URIs (the spec says `format: uri`, which a length check misses)."""
    embeds = body.get("embeds")
    check_embed_urls(embeds, errs, prefix)
    if isinstance(embeds, list) and embed_text_total(embeds) > EMBED_TOTAL_MAX:
        errs.add(
            (*prefix, "embeds"),
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
        )
    am = body.get("allowed_mentions")
    if isinstance(am, dict):
        parse = am.get("parse") or []
        for kind in ("users", "roles"):
            if kind in parse and am.get(kind):
                errs.add(
                    (*prefix, "allowed_mentions"),
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )
        for item in parse:
            if item not in ("users", "roles", "everyone"):
                errs.add(
                    (*prefix, "allowed_mentions", "parse"),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {'everyone', 'roles', 'users'}.",
                )


def url_error(value: Any, *, media: bool = False) -> tuple[str, str] | None:
    """Discord's form error (code, message) for an embed URL, or None when it takes it.

    A host needs a dot (Discord refuses `http://localhost/`), an attachment only a file name.
    """
    if not isinstance(value, str):
        return None  # the type check reports it
    m = _SCHEME.match(value)
    scheme = m.group(1) if m else ""
    allowed = ("http", "https", "attachment") if media else ("http", "https")
    if scheme.lower() not in allowed:
        why = f"Scheme \"{scheme}\" is not supported. Scheme must be one of ('http', 'https')."
        return ("URL_TYPE_INVALID_SCHEME", why)
    if scheme.lower() == "attachment":
        ok = re.fullmatch(r"attachment://[A-Za-z0-9_.-]+", value) is not None
    else:
        uri = _URI.fullmatch(value)
        ok = uri is not None and ("." in uri.group("host") or uri.group("host").startswith("["))
    return None if ok else ("URL_TYPE_INVALID_URL", "Not a well formed URL.")


def check_embed_urls(embeds: Any, errs: FormErrors, prefix: tuple[str, ...]) -> None:
    """Every URL of every embed must be a well-formed http(s) URI."""
    if not isinstance(embeds, list):
        return
    for i, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            continue
        for path in EMBED_URLS:
            node: Any = embed
            for key in path[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            value = node.get(path[-1]) if isinstance(node, dict) else None
            if value is None:
                continue
            error = url_error(value, media=path[0] in _MEDIA or path[-1] in _MEDIA)
            if error is not None:
                errs.add((*prefix, "embeds", str(i), *path), *error)


def is_empty_message(body: dict[str, Any], *, has_files: bool = False) -> bool:
    """True when a new message would have nothing to show (→ 50006)."""
    if has_files:
        return False
    return not (
        (body.get("content") or "").strip()
        or body.get("embeds")
        or body.get("sticker_ids")
        or body.get("components")
        or body.get("poll")
    )


def validate(
    body: Any, fields: tuple[Field, ...], *, message: bool, prefix: tuple[str, ...] = ()
) -> None:
    """Raise 50035 Invalid Form Body with every problem found, or return."""
    errs = FormErrors()
    if fields and not isinstance(body, dict | list):
        errs.add((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        errs.raise_if_any()
    check_fields(body, fields, errs, prefix)
    if message and isinstance(body, dict):
        check_message_rules(body, errs, prefix=prefix)
    errs.raise_if_any()


# Discord's locales (DSPEC AvailableLocalesEnum): the keys a command's localizations may use
LOCALES = frozenset({
    "ar", "bg", "cs", "da", "de", "el", "en-GB", "en-US", "es-419", "es-ES", "fi", "fr", "he",
    "hi", "hr", "hu", "id", "it", "ja", "ko", "lt", "nl", "no", "pl", "pt-BR", "ro", "ru",
    "sv-SE", "th", "tr", "uk", "vi", "zh-CN", "zh-TW",
})  # fmt: skip
_LOCALIZED = (("name_localizations", 32), ("description_localizations", 100))


def validate_localizations(commands: list[Any]) -> None:
    """A command's and its options' name/description localizations: known locales, each text
    1-32 (name) or 1-100 (description) characters; raise 50035 Invalid Form Body otherwise."""
    errs = FormErrors()
    stack: list[tuple[tuple[str, ...], dict[str, Any]]] = [
        ((str(i),), c) for i, c in enumerate(commands) if isinstance(c, dict)
    ]
    while stack:
        path, item = stack.pop()
        for key, high in _LOCALIZED:
            texts = item.get(key)
            for locale, text in (texts or {}).items() if isinstance(texts, dict) else ():
                where = (*path, key, str(locale))
                if locale not in LOCALES:
                    errs.add(where, "BASE_TYPE_CHOICES",
                             f"Value must be one of {{{', '.join(sorted(LOCALES))}}}.")  # fmt: skip
                elif not isinstance(text, str) or not 1 <= len(text) <= high:
                    length = f"Must be between 1 and {high} in length."
                    errs.add(where, "BASE_TYPE_BAD_LENGTH", length)
        options = item.get("options")
        for j, option in enumerate(options if isinstance(options, list) else []):
            if isinstance(option, dict):
                stack.append(((*path, "options", str(j)), option))
    errs.raise_if_any()
