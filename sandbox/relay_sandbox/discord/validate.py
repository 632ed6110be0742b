"""Body validation: the endpoint table's fields plus the documented rules the spec lacks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from relay_sandbox.discord import errors
from relay_sandbox.discord.endpoints import Field

EMBED_TOTAL_MAX = 6000
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
    """Documented rules the spec lacks: the 6000 embed total and allowed_mentions exclusivity."""
    embeds = body.get("embeds")
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
