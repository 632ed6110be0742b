"""The form (modal) an interaction may answer with: checked as Discord checks it.

DDOCS (interactions/receiving-and-responding.mdx, components/reference.mdx): a modal has a
`custom_id` (1-100), a `title` (1-45) and 1 to 5 components. Each is an action row holding one
text input, a label (1-45, description up to 100) around one text input, or a text display
(content 1-4,000). A text input has a `custom_id` (1-100), a style (1 short, 2 paragraph), a
`label` (up to 45; required in an action row), a `placeholder` (up to 100), `min_length`
(0-4,000), `max_length` (1-4,000) and a prefilled `value` of at most 4,000 characters, and
never longer than its own `max_length`.
"""

from __future__ import annotations

from typing import Any

from relay_sandbox.discord.validate import FormErrors

ACTION_ROW, TEXT_INPUT, TEXT_DISPLAY, LABEL = 1, 4, 10, 18
MAX_COMPONENTS = 5
TEXT_MAX = 4000


def _length(
    errs: FormErrors, path: tuple[str, ...], value: Any, low: int, high: int, *, needed: bool
) -> None:
    if value is None:
        if needed:
            errs.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    if not isinstance(value, str):
        errs.add(path, "BASE_TYPE_STRING", "Must be a string.")
    elif not low <= len(value) <= high:
        errs.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _text_input(errs: FormErrors, path: tuple[str, ...], c: Any, *, labelled: bool) -> None:
    if not isinstance(c, dict) or c.get("type") != TEXT_INPUT:
        errs.add(
            path,
            "COMPONENT_TYPE_INVALID",
            "The specified component type is invalid in this context",
        )
        return
    _length(errs, (*path, "custom_id"), c.get("custom_id"), 1, 100, needed=True)
    if c.get("style") not in (1, 2):
        errs.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    _length(errs, (*path, "label"), c.get("label"), 1, 45, needed=not labelled)
    _length(errs, (*path, "placeholder"), c.get("placeholder"), 0, 100, needed=False)
    low, high = c.get("min_length"), c.get("max_length")
    if low is not None and not (isinstance(low, int) and 0 <= low <= TEXT_MAX):
        errs.add((*path, "min_length"), "NUMBER_TYPE_MAX", f"int value should be <= {TEXT_MAX}.")
    if high is not None and not (isinstance(high, int) and 1 <= high <= TEXT_MAX):
        errs.add((*path, "max_length"), "NUMBER_TYPE_MAX", f"int value should be <= {TEXT_MAX}.")
    value = c.get("value")
    limit = high if isinstance(high, int) and 1 <= high <= TEXT_MAX else TEXT_MAX
    _length(errs, (*path, "value"), value, 0, limit, needed=False)


def check_modal(data: Any) -> FormErrors:
    """The form errors of a modal response's `data`, under `data.…` as Discord names them."""
    errs = FormErrors()
    if not isinstance(data, dict):
        errs.add(("data",), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return errs
    _length(errs, ("data", "custom_id"), data.get("custom_id"), 1, 100, needed=True)
    _length(errs, ("data", "title"), data.get("title"), 1, 45, needed=True)
    components = data.get("components")
    if not isinstance(components, list) or not 1 <= len(components) <= MAX_COMPONENTS:
        errs.add(("data", "components"), "BASE_TYPE_BAD_LENGTH",
                 f"Must be between 1 and {MAX_COMPONENTS} in length.")  # fmt: skip
        return errs
    for i, c in enumerate(components):
        path = ("data", "components", str(i))
        kind = c.get("type") if isinstance(c, dict) else None
        if kind == ACTION_ROW:
            inner = c.get("components")
            if not isinstance(inner, list) or len(inner) != 1:
                errs.add((*path, "components"), "BASE_TYPE_BAD_LENGTH",
                         "Must be between 1 and 1 in length.")  # fmt: skip
                continue
            _text_input(errs, (*path, "components", "0"), inner[0], labelled=False)
        elif kind == LABEL:
            _length(errs, (*path, "label"), c.get("label"), 1, 45, needed=True)
            _length(errs, (*path, "description"), c.get("description"), 1, 100, needed=False)
            _text_input(errs, (*path, "component"), c.get("component"), labelled=True)
        elif kind == TEXT_DISPLAY:
            _length(errs, (*path, "content"), c.get("content"), 1, TEXT_MAX, needed=True)
        else:
            errs.add((*path, "type"), "COMPONENT_TYPE_INVALID",
                     "The specified component type is invalid in this context")  # fmt: skip
    return errs
