"""The emulator's endpoint table checked against Discord's official OpenAPI spec."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from relay_sandbox.discord.endpoints import ENDPOINTS, Endpoint, Field

SPEC = Path(__file__).resolve().parents[3] / ".." / "shared" / "specs" / "discord" / "openapi.json"


@cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC.read_text())
    return data


def _deref(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec()["components"]["schemas"][name]
    return schema


def _alternatives(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The concrete (non-null) schemas a value may match: oneOf/anyOf/allOf expanded."""
    schema = _deref(schema)
    if _types(schema):  # an enum with its own type: its oneOf/allOf only list the constants
        return [schema]
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema:
            return [alt for sub in schema[key] for alt in _alternatives(sub)]
    if schema.get("type") == "null":
        return []
    return [schema]


def _types(schema: dict[str, Any]) -> set[str]:
    t = schema.get("type")
    return ({t} if isinstance(t, str) else set(t or [])) - {"null"}


def _step(schemas: list[dict[str, Any]], part: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(parent, child) pairs one path step down."""
    out = []
    for s in schemas:
        if part == "[]":
            if "items" in s:
                out += [(s, alt) for alt in _alternatives(s["items"])]
        elif part in s.get("properties", {}):
            out += [(s, alt) for alt in _alternatives(s["properties"][part])]
    return out


def _parts(path: str) -> list[str]:
    return path.replace("[]", ".[]").strip(".").replace("..", ".").split(".")


def _resolve(ep: Endpoint, f: Field) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    op = spec()["paths"][ep.template][ep.method.lower()]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    level: list[tuple[dict[str, Any], dict[str, Any]]] = [({}, s) for s in _alternatives(body)]
    for part in _parts(f.path):
        level = _step([child for _, child in level], part)
    return level


def _limit(schema: dict[str, Any], key: str) -> int | None:
    if "string" in _types(schema):
        return schema.get(f"{key}Length")
    if "array" in _types(schema):
        return schema.get(f"{key}Items")
    return None


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: e.name)
def test_path_and_method_exist_in_the_spec(ep: Endpoint) -> None:
    assert ep.template in spec()["paths"], ep.template
    assert ep.method.lower() in spec()["paths"][ep.template]


FIELDS = [(ep, f) for ep in ENDPOINTS for f in ep.fields]


@pytest.mark.parametrize("ep,f", FIELDS, ids=[f"{ep.name}:{f.path}" for ep, f in FIELDS])
def test_field_matches_the_spec(ep: Endpoint, f: Field) -> None:
    found = _resolve(ep, f)
    assert found, f"{f.path} is not in the spec's request body of {ep.method} {ep.template}"
    spec_types = set().union(*(_types(child) for _, child in found))
    assert set(f.types) <= spec_types, (f.types, spec_types)
    for key, ours in (("max", f.max_length), ("min", f.min_length)):
        theirs = {_limit(child, key) for _, child in found} - {None}
        if key == "max" and f.spec_max is not None:
            # a documented deviation: the docs are stricter than the spec
            assert theirs == {f.spec_max} and ours is not None and ours < f.spec_max and f.note
        elif ours is not None:
            assert theirs == {ours}, (key, ours, theirs)
    if f.required:
        name = _parts(f.path)[-1]
        assert any(name in parent.get("required", []) for parent, _ in found)


def test_content_limit_deviation_is_documented() -> None:
    create = next(e for e in ENDPOINTS if e.name == "create_message")
    content = next(f for f in create.fields if f.path == "content")
    assert (content.max_length, content.spec_max) == (2000, 4000) and "2000" in content.note
