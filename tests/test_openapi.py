"""The OpenAPI document (relay/openapi.json): it names every /v1/ route the router serves and
the model's limits, it ships in the wheel, and a running relay answers schemathesis' requests
(valid and invalid ones, derived from the document) with no 5xx and as the document says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as oas_checks

from relay import api, ingest, model, openapi
from relay.backend import EmbeddedValkey
from relay.changes import EDITABLE

from .conftest import ROOT
from .helpers import free_port
from .test_cli import write_config

DOC: dict[str, Any] = json.loads((ROOT / "relay" / "openapi.json").read_text())
SCHEMAS: dict[str, Any] = DOC["components"]["schemas"]
TOKEN = "fuzz-token-0123456789"
METHODS = {"get", "put", "post", "patch", "delete", "options", "trace"}


def _routes() -> set[tuple[str, str]]:
    app = api.make_app(cast(api.Relay, object()))
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        # aiohttp answers HEAD for every GET (allow_head): the document says so once
        if path.startswith("/v1/") and route.method != "HEAD":
            found.add((route.method.lower(), path))
    return found


def test_the_document_names_every_v1_route_and_no_other() -> None:
    documented = {
        (method, path)
        for path, item in DOC["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented == _routes()
    assert ("get", openapi.PATH) in documented


def test_the_schemas_hold_the_models_limits() -> None:
    new, changes, image = SCHEMAS["NewUpdate"], SCHEMAS["Changes"], SCHEMAS["Image"]
    limits = {"headline": model.MAX_HEADLINE, "body": model.MAX_BODY,
              "author": model.MAX_AUTHOR, "link": model.MAX_URL}  # fmt: skip
    for name, limit in limits.items():
        assert new["properties"][name]["maxLength"] == limit, name
        assert changes["properties"][name]["maxLength"] == limit, name
    assert image["properties"]["caption"]["maxLength"] == model.MAX_CAPTION
    assert image["properties"]["credit"]["maxLength"] == model.MAX_CREDIT
    assert image["properties"]["url"]["maxLength"] == model.MAX_URL
    assert set(new["properties"]) == {*model.FIELDS, "publish_at"}
    assert set(model.FIELDS) == set(SCHEMAS["Update"]["properties"])
    assert set(changes["properties"]) == {*EDITABLE, "publish_at"}
    assert set(image["properties"]) == set(model._IMAGE_FIELDS)
    # the same patterns as the model's (JSON Schema anchors with ^ and $; Python with \Z)
    [id_param] = DOC["paths"]["/v1/updates/{id}"]["parameters"]
    assert id_param["schema"]["pattern"] == "^" + model.ID_PATTERN.pattern.removesuffix(r"\Z") + "$"
    topic = new["properties"]["topic"]["pattern"]
    assert topic == "^" + model.SLUG_PATTERN.pattern.removesuffix(r"\Z") + "$"
    responses = DOC["components"]["responses"]
    assert str(api.MAX_BODY_BYTES) in responses["TooLarge"]["description"]
    assert f"({api.READ_TIMEOUT:g} s)" in responses["Timeout"]["description"]
    assert set(SCHEMAS["Accepted"]["required"]) == {
        "id",
        "revision",
        "action",
        "entry",
        "duplicate",
    }
    assert {a.value for a in model.Action} == set(
        SCHEMAS["Accepted"]["properties"]["action"]["enum"]
    )
    assert ingest.RETRY_AFTER >= 1 and api.UNAVAILABLE_RETRY_AFTER >= 1  # Retry-After: minimum 1


@pytest.mark.slow
def test_the_wheel_ships_the_document(tmp_path: Path) -> None:
    build = "import sys; from setuptools import build_meta as b; print(b.build_wheel(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", build, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = zipfile.ZipFile(tmp_path / result.stdout.strip().splitlines()[-1])
    assert json.loads(wheel.read("relay/openapi.json")) == DOC


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def running(valkey: EmbeddedValkey, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`relay run` with its API behind a token and the console platform: its base URL."""
    tmp = tmp_path_factory.mktemp("openapi")
    port = free_port()
    cfg = write_config(
        tmp / "r.yaml",
        redis={"url": valkey.url},
        api={"enabled": True, "host": "127.0.0.1", "port": port},
        channels=[{"destination": "console:stdout", "topics": ["ukraine", "climate"]}],
    )
    out = (tmp / "run.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay.cli", "--config", str(cfg), "run"],
        stdout=out, stderr=subprocess.STDOUT, env={**os.environ,
                                                   "RELAY_API_TOKEN": TOKEN},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp / "run.out"
            ).read_text()
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)
        out.close()
    log = (tmp / "run.out").read_text()
    assert "Traceback" not in log and "unexpected error" not in log, log[-4000:]


def test_the_document_is_served_without_a_token(running: str) -> None:
    status, body = _get(f"{running}{openapi.PATH}")
    assert (status, json.loads(body)) == (200, DOC)
    assert _get(f"{running}/v1/updates/x")[0] == 401  # the rest still needs it
    assert _get(f"{running}/v1/updates/x", TOKEN)[0] == 404


@pytest.mark.parametrize("link", ["HTTP://0[", "https://[::1/x"])
def test_a_link_with_an_unclosed_ipv6_bracket_is_a_400_naming_it(running: str, link: str) -> None:
    # Found by the fuzz below: urlsplit raised ValueError, which the API answered with a 500.
    body = json.dumps({"topic": "ukraine", "headline": "h", "link": link}).encode()
    request = urllib.request.Request(
        f"{running}/v1/updates", data=body, method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=5)
    assert answer.value.code == 400
    assert json.loads(answer.value.read())["field"] == "link"


def test_an_update_reads_back_with_its_progress_per_platform(running: str) -> None:
    body = json.dumps({"id": "per-platform", "topic": "climate", "headline": "Pledge"}).encode()
    request = urllib.request.Request(
        f"{running}/v1/updates", data=body, method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 201
    deadline = time.monotonic() + 30
    while True:
        status, raw = _get(f"{running}/v1/updates/per-platform", TOKEN)
        progress = json.loads(raw)["progress"]
        if status == 200 and progress and progress["done"]:
            break
        assert time.monotonic() < deadline, raw
        time.sleep(0.1)
    assert progress == {
        "revision": 1,
        "total": 1,
        "delivered": 1,
        "failed": 0,
        "done": True,
        "platforms": {"console": {"delivered": 1, "failed": 0, "total": 1}},
    }
    answer = requests.get(f"{running}/v1/updates/per-platform", timeout=5,
                          headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    schemathesis.openapi.from_dict(DOC)["/v1/updates/{id}"]["GET"].validate_response(answer)


CHECKS = [
    oas_checks.status_code_conformance,
    oas_checks.content_type_conformance,
    oas_checks.response_headers_conformance,
    oas_checks.response_schema_conformance,
]


# every operation with valid input, and with invalid input where it takes any (all but one)
FUZZED = [
    (f"{method.upper()} {path}", mode)
    for method, path in sorted(_routes())
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if path != openapi.PATH or mode is GenerationMode.POSITIVE
]


@pytest.mark.parametrize(("operation", "mode"), FUZZED)
def test_fuzz_finds_no_5xx_and_every_answer_matches_the_document(
    running: str, operation: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_dict(DOC)
    method, path = operation.split(" ")
    op = schema[path][method]
    strategy = op.as_strategy(generation_mode=mode)

    @settings(max_examples=60, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategy, steer=st.sampled_from([None, "u-1", "u-2", "ukraine"]))
    def fuzz(case: Any, steer: str | None) -> None:
        # Random ids and topics are almost never known: steer some cases to a configured topic
        # and to ids the fuzz itself publishes, so that edits, reads and deletes go deep too.
        if steer == "ukraine" and isinstance(case.body, dict) and "topic" in case.body:
            case.body["topic"] = steer
        elif steer and case.path_parameters:
            case.path_parameters["id"] = steer
        elif steer and isinstance(case.body, dict) and "id" in case.body:
            case.body["id"] = steer
        response = case.call(base_url=running, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code < 500, (case.as_curl_command(), response.text)
        case.validate_response(response, checks=CHECKS)

    fuzz()
