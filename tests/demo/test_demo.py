"""The whole demo in-process: the sample blog in every chat, the page's endpoints, its event
stream, and `relay demo` as a command."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from relay_sandbox.demo.run import Demo

from relay.dead_letters import DeadLetters
from relay.ledger import Ledger, read_progress
from relay.model import Destination

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def demo() -> AsyncIterator[Demo]:
    async with Demo(port=0, pace=0, fast=True) as running:
        yield running


async def settled(demo: Demo, count: int) -> None:
    """Wait until the desk lists `count` updates and every one's latest revision is delivered."""
    relay = demo.relay

    async def done() -> bool:
        ids = await demo.desk.listed()
        for update_id in ids:
            latest = await relay.ingest.latest(update_id)
            progress = await read_progress(relay.client, relay.keys, update_id)
            if latest is None or progress is None or progress.revision != latest.revision:
                return False
            if not progress.done:
                return False
            if progress.failed:  # done, but not everywhere: say why
                letters = await DeadLetters(relay.client, relay.keys).recent()
                raise AssertionError(f"{update_id}: {progress}; dead letters: {letters}")
        return len(ids) == count

    async with asyncio.timeout(20):
        while not await done():  # noqa: ASYNC110 - the state is in Redis, filled by the relay
            await asyncio.sleep(0.05)


async def copies_of(demo: Demo, dest: Destination) -> str:
    """What the relay recorded of `dest`'s copies, and what the sandbox shows there (the
    message a failed assertion gives)."""
    relay = demo.relay
    ledger = Ledger(relay.client, relay.keys, 3600)
    lines = []
    for update_id in await demo.desk.listed():
        latest = await relay.ingest.latest(update_id)
        progress = await read_progress(relay.client, relay.keys, update_id)
        copy = await ledger.get(update_id, dest)
        lines.append(f"{update_id}: rev {latest and latest.revision}, {progress}, copy {copy}")
    assert demo.discord is not None
    for view in demo.discord.control.transcript(int(dest.chat_id), include_deleted=True):
        lines.append(f"shown {view.id}: {view.embeds[:1]} deleted={view.deleted} "
                     f"edited={view.edited_at}")  # fmt: skip
    return "\n".join(lines)


def telegram_texts(demo: Demo, chat_id: int, *, bot: int | None = None) -> list[str]:
    shown = demo.telegram.control.transcript(chat_id, bot=bot)
    return [m.content for m in shown if not m.service]


def discord_titles(demo: Demo, channel_id: int) -> list[str]:
    assert demo.discord is not None
    views = demo.discord.control.transcript(channel_id, include_deleted=False)
    return [v.embeds[0]["title"] for v in views if v.embeds]


async def test_the_sample_blog_reaches_every_chat_as_subscribed(demo: Demo) -> None:
    await demo.play()
    await settled(demo, 7)
    tg, dc = demo.world.telegram, demo.world.discord
    assert dc is not None
    storm = [
        "Storm Halvard reaches the coast north of Kessel Bay",
        "Waves break over the harbour wall and flood the fish market",  # edited
        "Coastguard: keep off the piers tonight",
        "🔴 BREAKING\nEvacuation ordered for the low streets of the east quarter",
    ]
    council = "Council puts off its budget vote until Thursday"
    transit = "No ferries to the islands until tomorrow noon"

    def heads(texts: list[str]) -> list[str]:  # the headline, without the author's byline
        return [t.split("\n\n")[0].split("\nBy ")[0] for t in texts]

    channel = telegram_texts(demo, tg.channel_id)
    assert heads(channel) == [storm[0], storm[1], council, storm[2], storm[3], transit]
    assert "Waves break over the old harbour wall" not in "\n".join(channel)  # edit + delete
    corrected = channel[3]
    assert "four metres" in corrected and "six metres;" in corrected
    assert "Correction: an earlier version" in corrected
    pinned = [m for m in demo.telegram.control.transcript(tg.channel_id) if m.pinned]
    assert [m.content.split("\n\n")[0] for m in pinned] == [storm[3]]
    photo = next(m for m in demo.telegram.control.transcript(tg.channel_id) if m.photo_url)
    assert photo.photo_url == f"{demo.url}/demo/images/harbour.png"
    assert "<i>Photo: Demo Photo / Ada Lind</i>" in photo.html

    group = telegram_texts(demo, tg.group_id)
    assert group[:2] == [
        "/subscribe storm transit",
        "Subscribed to Storm Halvard (storm), Trains and ferries (transit).",
    ]
    assert heads(group[2:]) == [storm[0], storm[1], storm[2], storm[3], transit]
    mira = telegram_texts(demo, tg.reader_id, bot=tg.bot_id)
    assert mira[:2] == ["/subscribe storm", "Subscribed to Storm Halvard (storm)."]
    assert heads(mira[2:]) == storm

    titles = [t.replace("\\", "") for t in discord_titles(demo, dc.live_id)]
    expected = [storm[0], storm[1], council, storm[2], storm[3].split("\n")[1], transit]
    assert titles == expected, await copies_of(demo, Destination("discord", str(dc.live_id)))
    assert discord_titles(demo, dc.hall_id) == [council, transit]
    assert demo.discord is not None
    answers = [v.content for v in demo.discord.control.transcript(dc.hall_id) if v.ephemeral]
    assert answers == ["Subscribed to City council (council).",
                       "Subscribed to Trains and ferries (transit)."]  # fmt: skip
    lines = [e["text"] for e in demo.feed.narration]
    assert any(line.startswith("[10/10] edit halvard-3-") for line in lines)


async def test_the_page_is_the_editors_desk_signed_in_as_the_demo_editor(demo: Demo) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # a cookie for 127.0.0.1
    async with aiohttp.ClientSession(demo.url, cookie_jar=jar) as http:
        async with http.get("/") as r:
            page = await r.text()
        assert '<iframe id="desk" name="desk" src="/demo/desk"' in page  # the page's editor
        assert 'id="composer"' not in page  # and no composer of its own
        async with http.get("/desk/api/session") as r:
            assert r.status == 401  # signed out until the page opens the desk
        async with http.get("/demo/desk") as r:
            assert r.status == 200 and r.url.path == "/desk/"  # signed in, then the desk
            assert 'id="composer"' in await r.text()
        async with http.get("/desk/api/session") as r:
            session = await r.json()
        assert session["editor"] == "Demo editor"
        body = {"topic": "storm", "headline": "Posted from the desk"}
        headers = {"X-CSRF-Token": session["csrf"]}
        async with http.post("/desk/api/updates", json=body, headers=headers) as r:
            assert r.status == 201, await r.text()
            update_id = (await r.json())["id"]
    latest = await demo.relay.ingest.latest(update_id)
    assert latest is not None and latest.author == "Demo editor"
    assert await demo.desk.listed() == [update_id]


async def test_the_desk_opened_in_a_tab_takes_the_printed_password(demo: Demo) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(demo.url, cookie_jar=jar) as http:
        form = {"name": "Demo editor", "password": "not the password"}
        async with http.post("/desk/signin", data=form) as r:
            assert r.status == 401
        form["password"] = demo.desk_password
        async with http.post("/desk/signin", data=form) as r:
            assert r.status == 200 and r.url.path == "/desk/"  # followed the redirect


async def test_page_endpoints_serve_the_page_photos_and_state(demo: Demo) -> None:
    async with aiohttp.ClientSession(demo.url) as http:
        async with http.get("/") as r:
            assert r.status == 200
            page = await r.text()
        for asset in ("/demo/static/app.js", "/desk/static/render.js", "/desk/static/app.css"):
            assert f'"{asset}"' in page
            async with http.get(asset) as r:
                assert r.status == 200, asset
        async with http.get("/demo/images/rain.png") as r:
            assert r.status == 200 and r.content_type == "image/png"
            assert (await r.read())[:4] == b"\x89PNG"
        async with http.get("/demo/images/nope.png") as r:
            assert r.status == 404
        async with http.get("/demo/state") as r:
            state = await r.json()
        assert [p["title"] for p in state["panes"]] == [
            "Kessel Bay Live", "East quarter neighbours", "Mira ↔ @kessel_live_bot",
            "live-updates", "city-hall",
        ]  # fmt: skip
        assert state["platforms"] == ["discord", "telegram"]


async def _events(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    async for line in response.content:
        if line.startswith(b"data: "):
            yield json.loads(line[6:])


async def test_the_event_stream_sends_the_state_then_every_copy(demo: Demo) -> None:
    tg, dc = demo.world.telegram, demo.world.discord
    assert dc is not None
    async with aiohttp.ClientSession(demo.url) as http, http.get("/demo/events") as stream:
        events = _events(stream)
        first = await anext(events)
        assert first["type"] == "state" and len(first["panes"]) == 5
        mira = next(p for p in first["panes"] if p["key"] == f"telegram:{tg.reader_id}")
        assert [m["outgoing"] for m in mira["messages"]] == [True, False]
        update = {"topic": "storm", "headline": "Tide gauge fails at the north pier",
                  "body": "Engineers are _on their way_."}  # fmt: skip
        async with http.post("/v1/updates", json=update) as r:
            assert r.status == 201
        copies: dict[str, Any] = {}
        async with asyncio.timeout(15):
            async for event in events:
                if event["type"] == "message" and "Tide gauge" in json.dumps(event["message"]):
                    copies[event["pane"]] = event
                if len(copies) == 4:
                    break
    assert set(copies) == {f"telegram:{tg.channel_id}", f"telegram:{tg.group_id}",
                           f"telegram:{tg.reader_id}", f"discord:{dc.live_id}"}  # fmt: skip
    # New messages, as each app shows them arriving (an edit would redraw one).
    assert {p: e["kind"] for p, e in copies.items()} == {p: "created" if p.startswith("discord")
                                                          else "sent" for p in copies}  # fmt: skip


def test_relay_demo_runs_as_a_command_until_interrupted() -> None:
    relay = Path(sys.executable).parent / "relay"
    process = subprocess.Popen(
        [str(relay), "demo", "--port", "0", "--no-browser", "--pace", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Open http://"):
                break
        url = re.match(r"Open (http://127\.0\.0\.1:\d+)", lines[-1])
        assert url is not None, "".join(lines)
        assert any("the bot answered: Subscribed to Storm Halvard (storm)." in x for x in lines)
        with urllib.request.urlopen(url.group(1) + "/", timeout=5) as r:
            assert b'<iframe id="desk"' in r.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_relay_demo_says_so_when_its_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        relay = Path(sys.executable).parent / "relay"
        done = subprocess.run(
            [str(relay), "demo", "--port", str(port), "--no-browser"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"error: cannot serve the demo on 127.0.0.1:{port}" in done.stderr
