"""The editors' desk over HTTP: sign-in, sessions, CSRF, the rate limit, and every change going
through the same ingest as `/v1/updates`, with the editor's name as the author."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from relay import passwords
from relay.api import RELAY_KEY, make_app
from relay.app import Relay
from relay.config import Config
from relay.desk import routes as desk
from relay.desk.store import digest
from relay.errors import ConfigError
from relay.keys import Keys

KEYS = Keys()
PASSWORD = "tide-tables-at-noon"
HASH = passwords.hash_password(PASSWORD)
OTHER_HASH = passwords.hash_password("another-password-1")


def desk_section(**overrides: Any) -> dict[str, Any]:
    editors = [{"name": "Eda Editor", "password_hash": HASH},
               {"name": "Sam", "password_hash": OTHER_HASH}]  # fmt: skip
    return {"enabled": True, "editors": editors, **overrides}


@pytest.fixture
async def http(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> AsyncIterator[TestClient[Any, Any]]:
    config = make_config(api={"enabled": True}, desk=desk_section())
    async with Relay(config, adapters=[]) as relay, TestClient(TestServer(app(relay))) as c:
        yield c


def app(relay: Relay) -> web.Application:
    """The API's application with the desk, as `relay.api.serve` mounts it."""
    served = make_app(relay)
    desk.mount(served, relay)
    return served


async def sign_in(
    http: TestClient[Any, Any], name: str = "Eda Editor", password: str = PASSWORD
) -> Any:
    return await http.post(
        "/desk/signin", data={"name": name, "password": password}, allow_redirects=False
    )


async def csrf(http: TestClient[Any, Any]) -> str:
    response = await http.get("/desk/api/session")
    assert response.status == 200, await response.text()
    token: str = (await response.json())["csrf"]
    return token


# --- passwords and config ---------------------------------------------------------------------


def test_a_hash_verifies_its_password_only() -> None:
    encoded = passwords.hash_password("correct horse")
    assert encoded.startswith("scrypt$16384$8$1$") and encoded.count("$") == 5
    assert passwords.verify("correct horse", encoded)
    assert not passwords.verify("correct horsE", encoded)
    assert passwords.hash_password("correct horse") != encoded  # a fresh salt each time


BROKEN = ["tide-tables-at-noon", "scrypt$16384$8$1$c2FsdA", "pbkdf2$1$x$y$z$w",
          "scrypt$1000$8$1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"]  # fmt: skip


@pytest.mark.parametrize("value", BROKEN)
def test_a_plain_password_or_a_broken_hash_is_refused_without_being_shown(
    make_config: Callable[..., Config], value: str
) -> None:
    section = desk_section(editors=[{"name": "Eda", "password_hash": value}])
    with pytest.raises(ConfigError) as caught:
        make_config(api={"enabled": True}, desk=section)
    assert "desk.editors[0].password_hash" in str(caught.value)
    assert "relay desk-hash" in str(caught.value)
    assert value not in str(caught.value)


def test_the_desk_is_off_by_default_and_needs_the_api_and_editors(
    make_config: Callable[..., Config],
) -> None:
    assert make_config().desk.enabled is False
    with pytest.raises(ConfigError, match=r"api\.enabled"):
        make_config(desk=desk_section())  # BASE_CONFIG turns the API off
    with pytest.raises(ConfigError, match=r"desk\.editors"):
        make_config(api={"enabled": True}, desk={"enabled": True})
    twice = desk_section(editors=[{"name": "A", "password_hash": HASH}] * 2)
    with pytest.raises(ConfigError, match=r"desk\.editors\[1\]\.name"):
        make_config(api={"enabled": True}, desk=twice)
    for path in ("/v1/desk", "/v1", "desk", "/desk/", "/desk/{id}", "/", "/de sk"):
        with pytest.raises(ConfigError, match=r"desk\.path"):
            make_config(api={"enabled": True}, desk=desk_section(path=path))
    assert make_config(api={"enabled": True}, desk=desk_section(path="/v1x/news-desk")).desk


def test_relay_desk_hash_prints_a_hash_of_the_password_on_stdin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relay.cli", "desk-hash"],
        input="a long passphrase\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    encoded = result.stdout.strip()
    assert passwords.verify("a long passphrase", encoded)
    assert "a long passphrase" not in result.stdout
    out = io.StringIO()
    assert passwords.command(io.StringIO("short\n"), out) == 2 and out.getvalue() == ""


# --- signing in ----------------------------------------------------------------------------------


async def test_signed_out_the_page_sends_to_sign_in(http: TestClient[Any, Any]) -> None:
    bare = await http.get("/desk", allow_redirects=False)
    assert bare.status == 302 and bare.headers["Location"] == "/desk/"
    page = await http.get("/desk/", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/desk/signin"
    form = await http.get("/desk/signin")
    assert form.status == 200 and 'name="password"' in await form.text()
    api = await http.get("/desk/api/session")
    assert api.status == 401 and "sign in" in (await api.json())["error"]


async def test_sign_in_sets_a_strict_http_only_session_cookie(http: TestClient[Any, Any]) -> None:
    response = await sign_in(http)
    assert response.status == 303 and response.headers["Location"] == "/desk/"
    cookie = response.headers["Set-Cookie"]
    assert "relay_desk=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/desk" in cookie and "Secure" not in cookie  # secure_cookie is off here
    page = await http.get("/desk/")
    assert page.status == 200 and 'id="composer"' in await page.text()
    session = await (await http.get("/desk/api/session")).json()
    assert session["editor"] == "Eda Editor" and len(session["csrf"]) > 30
    assert [t["slug"] for t in session["topics"]] == ["ukraine", "climate", "elections"]


async def test_secure_cookie_marks_the_cookie_secure(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> None:
    config = make_config(api={"enabled": True}, desk=desk_section(secure_cookie=True))
    async with Relay(config, adapters=[]) as relay, TestClient(TestServer(app(relay))) as c:
        response = await sign_in(c)
        assert response.status == 303 and "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize(("name", "password"), [("Eda Editor", "tide-tables-at-nooN"),
                                                ("Nobody", PASSWORD), ("", "")])  # fmt: skip
async def test_a_wrong_name_or_password_opens_no_session(
    http: TestClient[Any, Any], client: aioredis.Redis, name: str, password: str
) -> None:
    response = await sign_in(http, name, password)
    assert response.status == 401
    assert "Wrong name or password." in await response.text()
    assert "Set-Cookie" not in response.headers
    assert (await http.get("/desk/api/session")).status == 401
    assert await client.keys(KEYS.desk_session("*")) == []


async def test_wrong_passwords_are_rate_limited_per_name(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    for _ in range(5):
        assert (await sign_in(http, password="guess")).status == 401
    refused = await sign_in(http)  # even the right password waits now
    assert refused.status == 429 and refused.headers["Retry-After"] == "60"
    assert "Too many wrong passwords" in await refused.text()
    assert "Set-Cookie" not in refused.headers
    assert 0 < await client.ttl(KEYS.desk_failures(digest("Eda Editor"))) <= 60
    assert (await sign_in(http, "Sam", "another-password-1")).status == 303  # another name
    await client.delete(KEYS.desk_failures(digest("Eda Editor")))  # the minute passed
    assert (await sign_in(http)).status == 303


async def test_parallel_guesses_get_no_more_tries_than_sequential_ones(
    http: TestClient[Any, Any],
) -> None:
    answers = await asyncio.gather(*(sign_in(http, password=f"guess-{i}") for i in range(20)))
    statuses = [a.status for a in answers]
    assert statuses.count(401) == 5 and statuses.count(429) == 15, statuses


async def test_an_expired_session_is_signed_out(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    await sign_in(http)
    [key] = await client.keys(KEYS.desk_session("*"))
    ttl = await client.ttl(key)
    assert 480 * 60 - 5 < ttl <= 480 * 60  # session_minutes, from sign-in
    await client.pexpire(key, 1)  # as if 480 minutes went by
    while await client.exists(key):
        pass
    api = await http.get("/desk/api/session")
    assert api.status == 401
    page = await http.get("/desk/", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/desk/signin"
    shown = await http.get("/desk/signin?expired=1")
    assert "Your session expired" in await shown.text()


async def test_sign_out_ends_the_session_and_needs_the_csrf_token(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    await sign_in(http)
    token = await csrf(http)
    refused = await http.post("/desk/signout", data={"csrf": "wrong"}, allow_redirects=False)
    assert refused.status == 403
    assert (await http.get("/desk/api/session")).status == 200
    out = await http.post("/desk/signout", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/desk/signin"
    assert await client.keys(KEYS.desk_session("*")) == []
    assert (await http.get("/desk/api/session")).status == 401
    again = await http.post("/desk/signout", data={"csrf": token}, allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == "/desk/signin"


# --- changes through the desk ------------------------------------------------------------------


async def test_changes_without_the_csrf_token_are_refused(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    await sign_in(http)
    token = await csrf(http)
    body = {"topic": "ukraine", "headline": "Corridor opens"}
    for headers in ({}, {"X-CSRF-Token": "x" + token[1:]}, {"X-CSRF-Token": ""}):
        response = await http.post("/desk/api/updates", json=body, headers=headers)
        assert response.status == 403, headers
        assert "CSRF" in (await response.json())["error"]
    elsewhere = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
    assert (await http.post("/desk/api/updates", json=body, headers=elsewhere)).status == 403
    assert (await http.delete("/desk/api/updates/any")).status == 403
    assert await client.xlen(KEYS.updates) == 0  # nothing reached the stream


async def test_publish_edit_delete_as_the_signed_in_editor(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    await sign_in(http)
    headers = {"X-CSRF-Token": await csrf(http)}
    body = {"topic": "ukraine", "headline": "Corridor opens", "author": "Someone Else",
            "image": {"url": "https://example.org/p.jpg", "caption": "The road"}}  # fmt: skip
    created = await http.post("/desk/api/updates", json=body, headers=headers)
    assert created.status == 201, await created.text()
    update_id = (await created.json())["id"]
    got = await (await http.get("/desk/api/updates")).json()
    [item] = got["updates"]
    assert item["update"]["id"] == update_id
    assert item["update"]["author"] == "Eda Editor"  # the signed-in editor, never the body's
    assert item["update"]["image"]["caption"] == "The road"
    edited = await http.patch(
        f"/desk/api/updates/{update_id}", json={"headline": "Corridor opens at noon"},
        headers=headers,
    )  # fmt: skip
    assert edited.status == 200 and (await edited.json())["revision"] == 2
    deleted = await http.delete(f"/desk/api/updates/{update_id}", headers=headers)
    assert deleted.status == 200 and (await deleted.json())["action"] == "delete"
    assert await client.xlen(KEYS.updates) == 3  # the same stream as /v1/updates
    [item] = (await (await http.get("/desk/api/updates")).json())["updates"]
    assert item["update"]["action"] == "delete" and item["update"]["revision"] == 3
    assert item["update"]["author"] == "Eda Editor"


async def test_the_list_holds_every_recent_update_whatever_posted_it(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    """The CMS's updates (the API) are listed beside the desk's, newest first, and can be
    edited from the desk, keeping their author; the list holds the newest 50."""
    for n in range(51):
        body = {"id": f"cms-{n}", "topic": "ukraine", "headline": f"Wire {n}", "author": "Wire"}
        assert (await http.post("/v1/updates", json=body)).status == 201
    await sign_in(http)
    headers = {"X-CSRF-Token": await csrf(http)}
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    waiting = {"topic": "ukraine", "headline": "Later", "publish_at": soon}
    held = await (await http.post("/desk/api/updates", json=waiting, headers=headers)).json()
    body = {"topic": "ukraine", "headline": "From the desk"}
    mine = await (await http.post("/desk/api/updates", json=body, headers=headers)).json()
    listed = (await (await http.get("/desk/api/updates")).json())["updates"]
    ids = [item["update"]["id"] for item in listed]
    assert ids == [mine["id"], held["id"], *(f"cms-{n}" for n in range(50, 2, -1))]
    assert "publish_at" in listed[1] and listed[2]["update"]["author"] == "Wire"
    edited = await http.patch("/desk/api/updates/cms-50", json={"headline": "Wire 50, fixed"},
                              headers=headers)  # fmt: skip
    assert edited.status == 200 and (await edited.json())["revision"] == 2
    [item] = [i for i in (await (await http.get("/desk/api/updates")).json())["updates"]
              if i["update"]["id"] == "cms-50"]  # fmt: skip
    assert item["update"]["headline"] == "Wire 50, fixed" and item["update"]["author"] == "Wire"
    assert await client.zcard(KEYS.recent_updates) == 50


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "field"),
    [
        ("post", "/desk/api/updates", {"topic": "sport", "headline": "h"}, 400, "topic"),
        ("post", "/desk/api/updates", {"topic": "ukraine"}, 400, "headline"),
        ("post", "/desk/api/updates", {"topic": "ukraine", "headline": "h", "link": "ftp://x"},
         400, "link"),
        ("post", "/desk/api/preview", {"topic": "ukraine", "headline": "h", "link": "ftp://x"},
         400, "link"),
        ("patch", "/desk/api/updates/none", {"headline": "x"}, 404, "id"),
        ("delete", "/desk/api/updates/none", None, 404, "id"),
    ],
)  # fmt: skip
async def test_the_desk_answers_bad_input_as_the_api_does(
    http: TestClient[Any, Any], client: aioredis.Redis,
    method: str, path: str, payload: Any, status: int, field: str,
) -> None:  # fmt: skip
    await sign_in(http)
    headers = {"X-CSRF-Token": await csrf(http)}
    response = await getattr(http, method)(path, json=payload, headers=headers)
    assert response.status == status
    answer = await response.json()
    assert answer["field"] == field and answer["error"]
    assert await client.xlen(KEYS.updates) == 0


async def test_neither_passwords_nor_hashes_reach_the_log(
    http: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await sign_in(http, password="wrong-password-42")
    await sign_in(http)
    headers = {"X-CSRF-Token": await csrf(http)}
    await http.post("/desk/api/updates", json={"topic": "ukraine", "headline": "x"},
                    headers=headers)  # fmt: skip
    assert "Eda Editor signed in" in caplog.text  # the log was captured
    for secret in (PASSWORD, "wrong-password-42", HASH, HASH.split("$")[-1]):
        assert secret not in caplog.text


# --- photos uploaded from the desk -----------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # a PNG's signature is what is checked


async def test_an_uploaded_photo_is_stored_and_shown_to_signed_in_editors_only(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    await sign_in(http)
    headers = {"X-CSRF-Token": await csrf(http), "Content-Type": "image/png"}
    uploaded = await http.post("/desk/api/photos", data=PNG, headers=headers)
    assert uploaded.status == 201, await uploaded.text()
    answer = await uploaded.json()
    assert answer["bytes"] == len(PNG)
    assert answer["url"].startswith("https://media.invalid/")
    mid = answer["url"].removeprefix("https://media.invalid/")
    assert await client.get(KEYS.media(mid)) == PNG  # in the media store every adapter reads
    shown = await http.get(f"/desk/media/{mid}")
    assert shown.status == 200 and shown.content_type == "image/png"
    assert await shown.read() == PNG
    assert (await http.get("/desk/media/0123456789abcdef")).status == 404
    # The update takes the photo as its image; the desk lists it for the next update.
    body = {"topic": "ukraine", "headline": "Corridor opens", "image": {"url": answer["url"]}}
    created = await http.post("/desk/api/updates", json=body, headers=headers)
    assert created.status == 201, await created.text()
    [item] = (await (await http.get("/desk/api/updates")).json())["updates"]
    assert item["update"]["image"]["url"] == answer["url"]
    http.session.cookie_jar.clear()  # signed out: neither the photo nor an upload
    assert (await http.get(f"/desk/media/{mid}")).status == 401
    assert (await http.post("/desk/api/photos", data=PNG, headers=headers)).status == 401


@pytest.fixture
async def small_store(
    client: aioredis.Redis, make_config: Callable[..., Config]
) -> AsyncIterator[TestClient[Any, Any]]:
    config = make_config(api={"enabled": True}, desk=desk_section(),
                         media={"max_image_mb": 0.001})  # fmt: skip
    async with Relay(config, adapters=[]) as relay, TestClient(TestServer(app(relay))) as c:
        yield c


@pytest.mark.parametrize(
    ("data", "csrf_ok", "status", "says"),
    [
        (b"GIF89a" + bytes(2000), True, 413, "That photo is 0.0 MB; the relay takes photos up to"),
        (b"%PDF-1.7 not a picture", True, 415, "That file is not a photo"),
        (b"", True, 415, "That file is not a photo"),
        (PNG[:500], False, 403, "CSRF"),
    ],
)  # fmt: skip
async def test_uploads_that_are_no_photo_too_big_or_forged_are_refused_and_not_kept(
    small_store: TestClient[Any, Any], client: aioredis.Redis,
    data: bytes, csrf_ok: bool, status: int, says: str,
) -> None:  # fmt: skip
    http = small_store
    await sign_in(http)
    token = await csrf(http)
    headers = {"X-CSRF-Token": token if csrf_ok else "forged"}
    refused = await http.post("/desk/api/photos", data=data, headers=headers)
    assert refused.status == status
    answer = await refused.json()
    assert says in answer["error"]
    if status != 403:
        assert answer["field"] == "image"
    assert await client.keys(KEYS.media("*")) == []
    assert await client.zcard(KEYS.media_index) == 0


async def test_a_stored_photo_no_longer_kept_is_refused_naming_image_url(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    """A media URL the store does not hold (expired, or made up) is bad input: the API and the
    desk answer 400 on `image.url` for a publish, an edit or a schedule; nothing is sent."""
    gone = {"url": "https://media.invalid/0123456789abcdef0123456789abcdef"}
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    kept = {"topic": "ukraine", "headline": "Ferry resumes", "id": "kept"}
    assert (await http.post("/v1/updates", json=kept)).status == 201
    await sign_in(http)
    headers = {"X-CSRF-Token": await csrf(http)}
    attempts = [
        ("POST", "/v1/updates", {"topic": "ukraine", "headline": "Port", "image": gone}),
        ("POST", "/v1/updates", {"topic": "ukraine", "headline": "Port", "image": gone,
                                 "publish_at": later}),
        ("PATCH", "/v1/updates/kept", {"image": gone}),
        ("POST", "/desk/api/updates", {"topic": "ukraine", "headline": "Port", "image": gone}),
        ("PATCH", "/desk/api/updates/kept", {"image": gone}),
    ]  # fmt: skip
    for method, path, body in attempts:
        refused = await http.request(method, path, json=body, headers=headers)
        assert refused.status == 400, (path, await refused.text())
        answer = await refused.json()
        assert answer["field"] == "image.url", path
        assert "no longer keeps (photos are kept 7 days)" in answer["error"], path
    assert await client.xlen(KEYS.updates) == 1  # only the first publish
    assert await client.zcard(KEYS.scheduled) == 0
    latest = await (await http.get("/v1/updates/kept")).json()
    assert latest["update"]["revision"] == 1 and latest["update"]["image"] is None


async def test_a_photo_is_kept_as_long_as_its_scheduled_update_needs_it(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    """Kept for `ledger_ttl_days` (7) from the upload; scheduled 20 days ahead, kept until 7
    days after its time, and uploading the same photo again never shortens that."""
    week = 7 * 86400
    await sign_in(http)
    headers = {"X-CSRF-Token": await csrf(http)}
    url = (await (await http.post("/desk/api/photos", data=PNG, headers=headers)).json())["url"]
    mid = url.removeprefix("https://media.invalid/")
    assert week - 5 <= await client.ttl(KEYS.media(mid)) <= week
    at = datetime.now(UTC) + timedelta(days=20)
    body = {"topic": "ukraine", "headline": "Anniversary", "image": {"url": url},
            "publish_at": at.isoformat()}  # fmt: skip
    assert (await http.post("/desk/api/updates", json=body, headers=headers)).status == 202
    needed = at.timestamp() + week - datetime.now(UTC).timestamp()
    for key in (KEYS.media(mid), KEYS.media_index, KEYS.media_sizes):
        assert needed - 5 <= await client.ttl(key) <= needed + 1, key
    assert await client.zscore(KEYS.media_index, mid) == pytest.approx(at.timestamp() + week, 2)
    again = await http.post("/desk/api/photos", data=PNG, headers=headers)
    assert (await again.json())["url"] == url
    assert await client.ttl(KEYS.media(mid)) >= needed - 5
    assert await client.zscore(KEYS.media_index, mid) == pytest.approx(at.timestamp() + week, 2)
    # Published at its time, the update is sent with the photo still there.
    relay = http.server.app[RELAY_KEY]
    assert await relay.schedule.fire(now=at.timestamp() + 1) == 1
    assert await client.xlen(KEYS.updates) == 1
    assert await client.get(KEYS.media(mid)) == PNG


async def test_an_edit_keeps_the_updates_photo_as_long_as_its_copies(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    """An edit that leaves the photo as it is keeps it another ledger's time, as the update
    and its copies (a Discord edit uploads it again); one whose photo is gone all the same
    (the store flushed) is not refused for it: the editor did not give it."""
    week = 7 * 86400
    await sign_in(http)
    headers = {"X-CSRF-Token": await csrf(http)}
    url = (await (await http.post("/desk/api/photos", data=PNG, headers=headers)).json())["url"]
    key = KEYS.media(url.removeprefix("https://media.invalid/"))
    body = {"topic": "ukraine", "headline": "Harbour", "image": {"url": url}}
    created = await http.post("/desk/api/updates", json=body, headers=headers)
    update_id = (await created.json())["id"]
    await client.expire(key, 60)  # six days and more later
    change = {"headline": "Harbour, later"}
    edited = await http.patch(f"/desk/api/updates/{update_id}", json=change, headers=headers)
    assert edited.status == 200, await edited.text()
    assert week - 5 <= await client.ttl(key) <= week
    await client.delete(key)
    again = await http.patch(f"/desk/api/updates/{update_id}", json={"headline": "Harbour, 3"},
                             headers=headers)  # fmt: skip
    assert again.status == 200 and (await again.json())["revision"] == 3, await again.text()


# --- scheduled from the desk -----------------------------------------------------------------


async def test_an_update_scheduled_from_the_desk_waits_moves_and_cancels_or_goes(
    http: TestClient[Any, Any], client: aioredis.Redis
) -> None:
    await sign_in(http)
    headers = {"X-CSRF-Token": await csrf(http)}
    soon = datetime.now(UTC) + timedelta(hours=2)
    body = {"topic": "ukraine", "headline": "Curfew lifted at six", "publish_at": soon.isoformat()}
    first = await http.post("/desk/api/updates", json=body, headers=headers)
    assert first.status == 202, await first.text()
    answer = await first.json()
    assert answer["scheduled"] is True
    assert datetime.fromisoformat(answer["publish_at"]) == soon.replace(
        microsecond=soon.microsecond // 1000 * 1000)  # fmt: skip
    update_id = answer["id"]
    [item] = (await (await http.get("/desk/api/updates")).json())["updates"]
    assert item["update"]["author"] == "Eda Editor" and item["progress"] is None
    assert item["publish_at"] == answer["publish_at"]
    assert await client.xlen(KEYS.updates) == 0  # nothing sent yet

    # Moved an hour later and reworded: still waiting, nothing sent.
    later = soon + timedelta(hours=1)
    change = {"headline": "Curfew lifted at seven", "publish_at": later.isoformat()}
    moved = await http.patch(f"/desk/api/updates/{update_id}", json=change, headers=headers)
    assert moved.status == 200, await moved.text()
    [item] = (await (await http.get("/desk/api/updates")).json())["updates"]
    assert item["update"]["headline"] == "Curfew lifted at seven"
    assert datetime.fromisoformat(item["publish_at"]) > soon
    # A time in the past is refused naming the field; nothing changes.
    past = {"publish_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}
    refused = await http.patch(f"/desk/api/updates/{update_id}", json=past, headers=headers)
    assert refused.status == 400 and (await refused.json())["field"] == "publish_at"

    # Cancelled: it leaves the list and was never sent.
    cancelled = await http.delete(f"/desk/api/updates/{update_id}", headers=headers)
    assert cancelled.status == 200 and (await cancelled.json())["cancelled"] is True
    assert (await (await http.get("/desk/api/updates")).json())["updates"] == []
    assert await client.xlen(KEYS.updates) == 0

    # Another one goes at its time: the list then shows it published, with its progress.
    body["headline"] = "Bridge reopens to traffic"
    second = await http.post("/desk/api/updates", json=body, headers=headers)
    assert second.status == 202
    relay = http.server.app[RELAY_KEY]
    assert await relay.schedule.fire(now=soon.timestamp() + 1) == 1
    [item] = (await (await http.get("/desk/api/updates")).json())["updates"]
    assert "publish_at" not in item
    assert item["update"]["headline"] == "Bridge reopens to traffic"
    assert item["update"]["action"] == "publish" and item["update"]["author"] == "Eda Editor"
    assert await client.xlen(KEYS.updates) == 1
