"""Builds frozen dataclasses from a YAML mapping: the dataclass fields are the declaration.

Each field of a settings dataclass is a key. Its annotation gives the type, and in
`Annotated[type, Rule(...), ...]` the rules a value must pass; its default is the value of an
absent or null key (a field with no default is a required key). A field whose metadata comes
from `source(...)` is no key: the walker computes it from the `Context` (the environment, say).

The walker understands `bool`, `int`, `float` (finite only), `str`, `Path`, `X | None`,
`tuple[X, ...]` and `frozenset[X]` of those, and nested dataclasses (a mapping, or a list of
mappings). Every error is a `ConfigError` naming the file, the key path (`topics[0].slug`) and
what was expected, with the value found unless the field is hidden from `repr` (a secret); a key
the declaration lacks is refused, naming the keys allowed there; a key the class lists in its
`RETIRED_KEYS` class variable (key: what replaced it) is refused with that explanation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from relay.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")

_SOURCE = "settings.source"
_DEFAULT_FROM = "settings.default_from"
_ENV = "settings.env"
_EXPECTED: dict[Any, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    Path: "a path",
}


@dataclass(frozen=True)
class Rule:
    """A constraint carried in `Annotated[type, Rule(...)]`; `expected` says what passes.

    The first rule's `expected` also describes a value of the wrong type. Its `parse`, if any,
    replaces the type's own reading of the raw YAML value (raise `ValueError`, or `Refused`
    saying why, to refuse it).
    Then each rule in turn: `test` must hold of the value, `then` normalises it. With `blank`,
    an empty string counts as an absent key.
    """

    expected: str
    test: Callable[[Any], object] | None = None
    parse: Callable[[Any], Any] | None = None
    then: Callable[[Any], Any] | None = None
    blank: bool = False


@dataclass(frozen=True)
class Context:
    """What a walk knows besides the data: the file (named in errors) and the environment."""

    file: str
    env: Mapping[str, str]
    need_tokens: bool = True  # False for a command that never talks to a platform


class Invalid(Exception):
    """Raised by a `source` function: the sibling key `key` is wrong (the walker adds the path)."""

    def __init__(self, key: str, expected: str) -> None:
        super().__init__(key, expected)
        self.key = key
        self.expected = expected


Source = Callable[[Context, Mapping[str, Any]], Any]


def source(compute: Source) -> dict[str, Any]:
    """Field metadata: no key; the value is `compute(context, the fields read before it)`."""
    return {_SOURCE: compute}


def default_from(compute: Callable[[Mapping[str, Any]], Any]) -> dict[str, Any]:
    """Field metadata: an absent key defaults to `compute(the fields read before it)`."""
    return {_DEFAULT_FROM: compute}


def env_override(var: str) -> dict[str, Any]:
    """Field metadata: the environment variable `var`, when set and not empty, wins over the key."""
    return {_ENV: var}


class Refused(Exception):
    """A raw value does not read as the type (a `Rule.parse` may raise it too); `why` adds to
    the expectation, if anything."""

    def __init__(self, why: str = "") -> None:
        super().__init__(why)
        self.why = why


def build(cls: type[D], data: Any, context: Context, path: str = "") -> D:
    """Read the mapping `data` (found at key `path`) into a `cls`, checking every key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _error(context, path or "(top level)", "a mapping of keys to values", data)
    values: dict[str, Any] = {}
    keys: list[str] = []
    for f, kind, rules in _declared(cls):
        compute = f.metadata.get(_SOURCE)
        if compute is not None:
            try:
                values[f.name] = compute(context, values)
            except Invalid as exc:
                raise ConfigError(context.file, _join(path, exc.key), exc.expected) from None
            continue
        keys.append(f.name)
        where = _join(path, f.name)
        values[f.name] = _field(f, kind, rules, data.get(f.name), values, context, where)
    unknown = sorted(str(k) for k in data if k not in keys)
    retired: dict[str, str] = getattr(cls, "RETIRED_KEYS", {})
    for key in unknown:
        if key in retired:  # a key an older version read: say what replaced it
            raise ConfigError(context.file, _join(path, key), retired[key])
    if unknown:
        allowed = ", ".join(sorted(keys))
        expected = f"unknown key (allowed here: {allowed})"
        raise ConfigError(context.file, _join(path, unknown[0]), expected)
    return cls(**values)


def key_paths(cls: type[DataclassInstance], prefix: str = "") -> dict[str, Any]:
    """Every key a walk of `cls` reads, as `a.b` or `a[].b` paths, with the key's type."""
    paths: dict[str, Any] = {}
    for f, kind, rules in _declared(cls):
        if _SOURCE in f.metadata:
            continue
        path = _join(prefix, f.name)
        paths[path] = kind
        if _is_section(kind, rules):
            paths |= key_paths(kind, path)
        elif _is_section(_item(kind), ()):
            paths |= key_paths(_item(kind), f"{path}[]")
    return paths


def _field(
    f: dataclasses.Field[Any],
    kind: Any,
    rules: tuple[Rule, ...],
    raw: Any,
    siblings: Mapping[str, Any],
    context: Context,
    where: str,
) -> Any:
    """One key's value: the file's or its default, unless its environment variable is set."""
    if _is_section(kind, rules):  # read even when left out, for its sources and environment
        return build(kind, raw, context, where)
    if raw is None or (raw == "" and any(r.blank for r in rules)):
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        elif _DEFAULT_FROM in f.metadata:
            value = f.metadata[_DEFAULT_FROM](siblings)
        else:
            raise ConfigError(context.file, where, f"{_expected(kind, rules)} (required)")
    else:
        value = _read(kind, rules, raw, context, where, f.repr)
    var = f.metadata.get(_ENV)
    if var and context.env.get(var):
        note = f"; the environment variable {var} holds something else"
        value = _read(kind, rules, context.env[var], context, where, f.repr, note)
    return value


def _read(
    kind: Any,
    rules: tuple[Rule, ...],
    raw: Any,
    context: Context,
    where: str,
    show: bool,
    note: str = "",
) -> Any:
    """Read `raw` as `kind`, then apply `rules`; refuse naming the key and what was expected."""
    expected = _expected(kind, rules)
    try:
        if rules and rules[0].parse is not None:
            value = rules[0].parse(raw)
        else:
            value = _coerce(kind, raw, context, where)
    except (Refused, ValueError) as exc:
        why = exc.why if isinstance(exc, Refused) else ""
        raise _error(context, where, expected + note, raw, show, why) from None
    for rule in rules:
        if rule.test is not None and not rule.test(value):
            raise _error(context, where, rule.expected + note, raw, show)
        if rule.then is not None:
            value = rule.then(value)
    return value


def _coerce(kind: Any, raw: Any, context: Context, where: str) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        (inner,) = (a for a in get_args(kind) if a is not type(None))
        return _coerce(inner, raw, context, where)
    if _is_section(kind, ()):  # an item of a list, or an optional section
        return build(kind, raw, context, where)
    if origin in (tuple, frozenset):
        if not isinstance(raw, list):
            raise Refused
        # A refused scalar item refuses the whole list; a mapping item names its own keys.
        item = _item(kind)
        return origin(_coerce(item, x, context, f"{where}[{i}]") for i, x in enumerate(raw))
    if kind is bool:
        if not isinstance(raw, bool):
            raise Refused
        return raw
    if isinstance(raw, bool):  # YAML's true is an int to Python, never a number here
        raise Refused
    if kind is float and isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise Refused("not a finite number")
        return float(raw)
    if kind is Path and isinstance(raw, str):
        return Path(raw).expanduser()
    if kind in (int, str) and isinstance(raw, kind):
        return raw
    if kind in _EXPECTED:
        raise Refused
    raise TypeError(f"{where}: no reading of {kind!r}; declare a Rule with parse")


_Declared = tuple[tuple[dataclasses.Field[Any], Any, tuple[Rule, ...]], ...]


@functools.cache
def _declared(cls: type[DataclassInstance]) -> _Declared:
    """The fields of `cls`, each with its type and rules (annotations resolved once)."""
    hints = get_type_hints(cls, include_extras=True)
    return tuple((f, *_split(hints[f.name])) for f in dataclasses.fields(cls))


def _split(hint: Any) -> tuple[Any, tuple[Rule, ...]]:
    """`Annotated[kind, rules...]` into kind and rules; any other hint has no rules."""
    if get_origin(hint) is Annotated:
        kind, *extras = get_args(hint)
        return kind, tuple(x for x in extras if isinstance(x, Rule))
    return hint, ()


def _is_section(kind: Any, rules: tuple[Rule, ...]) -> bool:
    """A nested dataclass read as a mapping (not one a rule parses from a scalar)."""
    return dataclasses.is_dataclass(kind) and not (rules and rules[0].parse is not None)


def _item(kind: Any) -> Any:
    """The item type of `tuple[X, ...]` or `frozenset[X]`, else None."""
    if get_origin(kind) in (tuple, frozenset):
        return get_args(kind)[0]
    return None


def _expected(kind: Any, rules: tuple[Rule, ...]) -> str:
    if rules:
        return rules[0].expected
    if dataclasses.is_dataclass(kind):
        return "a mapping of keys to values"
    if _item(kind) is not None:
        return "a list"
    return _EXPECTED.get(kind, "a value")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _error(
    context: Context, where: str, expected: str, value: Any, show: bool = True, why: str = ""
) -> ConfigError:
    """What was expected and, unless the key is a secret, what was found (abridged)."""
    if not show:
        return ConfigError(context.file, where, expected)
    found = repr(value)
    if len(found) > 60:
        found = found[:57] + "..."
    return ConfigError(
        context.file, where, f"{expected}, got {found}" + (f" ({why})" if why else "")
    )
