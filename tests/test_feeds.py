"""Following a live blog's feed (`feeds:`): new entries post, changed entries edit, removed
entries delete, and an unchanged feed costs a 304.

End to end as a newsroom meets it: `relay run` as a subprocess follows a feed served by a local
server whose entries the test changes, and delivers to a Telegram channel in the sandbox. The
reader's parts (RSS, Atom, JSON Feed, HTML bodies) are checked on their own below.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer
from relay_sandbox.telegram.render import DisplayedMessage
from relay_sandbox.telegram.server import TelegramSandbox

from relay import feed_reader, markup, model
from relay.claims import Claims
from relay.config import Config
from relay.errors import ConfigError
from relay.feed_settings import FeedConfig
from relay.feeds import feed_id, follow, polls, update_id
from relay.keys import Keys
from relay.model import Image, Update

from .conftest import BASE_CONFIG
from .helpers import KEYS, Pipeline
from .test_cli import relay_cmd, write_config

WAIT = 60.0
START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@dataclass
class Entry:
    guid: str
    title: str
    html: str
    minute: int  # published at START + minute

    def rss(self) -> str:
        when = format_datetime(START + timedelta(minutes=self.minute), usegmt=True)
        return (f"<item><guid isPermaLink='false'>{self.guid}</guid><title>{escape(self.title)}"
                f"</title><description>{escape(self.html)}</description>"
                f"<link>https://news.example/live#{self.guid}</link><pubDate>{when}</pubDate>"
                "</item>")  # fmt: skip


@dataclass
class LiveBlog:
    """A CMS's RSS feed with an ETag: the test edits `entries`, the relay polls."""

    entries: list[Entry] = field(default_factory=list)
    served: list[int] = field(default_factory=list)  # status of each poll answered
    peers: list[int] = field(default_factory=list)  # the client's port of each poll

    def document(self) -> str:
        items = "".join(e.rss() for e in sorted(self.entries, key=lambda e: -e.minute))
        return f"<rss version='2.0'><channel><title>Live</title>{items}</channel></rss>"

    async def handle(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        self.peers.append(request.transport.get_extra_info("peername")[1])
        body = self.document()
        etag = f'"{abs(hash(body))}"'
        if request.headers.get("If-None-Match") == etag:
            self.served.append(304)
            return web.Response(status=304, headers={"ETag": etag})
        self.served.append(200)
        return web.Response(text=body, content_type="application/rss+xml", headers={"ETag": etag})


@pytest.fixture
async def blog() -> AsyncIterator[tuple[LiveBlog, str]]:
    feed = LiveBlog([Entry("old", "Overnight recap", "<p>What happened overnight.</p>", 0)])
    app = web.Application()
    app.router.add_get("/live.rss", feed.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield feed, str(server.make_url("/live.rss"))
    await server.close()


async def until(check: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path) -> None:
    async with asyncio.timeout(WAIT):
        while not check():
            assert proc.poll() is None, log.read_text()  # noqa: ASYNC240 - it exited: a last read
            await asyncio.sleep(0.05)


async def test_a_followed_feed_posts_new_entries_edits_changed_ones_and_deletes_removed_ones(
    tmp_path: Path, client: aioredis.Redis, config: Config, blog: tuple[LiveBlog, str]
) -> None:
    feed, url = blog
    async with TelegramSandbox() as tg:
        bot = tg.control.create_bot("feed_bot")
        channel = tg.control.create_chat("channel", "Live: Ukraine").id
        tg.control.add_bot(channel, bot)
        cfg = write_config(
            tmp_path / "r.yaml", redis={"url": config.redis.url},
            telegram={"enabled": True, "api_url": tg.base_url}, console={"enabled": False},
            channels=[{"destination": f"telegram:{channel}", "topics": ["ukraine"]}],
            feeds=[{"url": url, "topic": "ukraine", "interval_seconds": 1, "deletes": True}],
        )  # fmt: skip
        log = tmp_path / "run.log"
        out = log.open("w")
        proc = subprocess.Popen(  # noqa: ASYNC220 - started here, stopped below
            [sys.executable, "-m", "relay.cli", "--config", str(cfg), "run"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "TELEGRAM_TOKEN": bot.token},
        )  # fmt: skip

        def shown() -> list[DisplayedMessage]:
            return [m for m in tg.control.transcript(channel) if not m.service]

        try:
            # First poll: the entry already there is history, not news (backfill 0).
            await until(lambda: len(feed.served) >= 1, proc, log)
            await until(lambda: 304 in feed.served, proc, log)  # unchanged: not read again
            assert shown() == []
            feed.entries += [
                Entry("e1", "Talks resume in Geneva", "<p>Delegations <b>arrived</b>.</p>", 5),
                Entry("e2", "Air raid alert in Kyiv", "<p>Sirens sounded.</p>", 6),
            ]
            await until(lambda: len(shown()) == 2, proc, log)
            first, second = shown()
            assert first.content.startswith("Talks resume in Geneva")  # oldest first
            assert "Delegations arrived." in first.content and second.content.startswith("Air raid")
            feed.entries[1].title = "Talks resume in Geneva, delayed"
            await until(lambda: shown()[0].content.startswith("Talks resume in Geneva, delayed"),
                        proc, log)  # fmt: skip
            assert [m.message_id for m in shown()] == [first.message_id, second.message_id]
            assert shown()[0].edit_date is not None  # edited in place, never posted again
            del feed.entries[1]  # the newsroom withdrew it
            await until(lambda: [m.message_id for m in shown()] == [second.message_id], proc, log)
            polls = len(feed.served)
            await until(lambda: len(feed.served) >= polls + 2, proc, log)
            assert [m.message_id for m in shown()] == [second.message_id]  # nothing re-posted
            status = await asyncio.to_thread(relay_cmd, "--config", str(cfg), "status")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, WAIT)
            out.close()
    text = log.read_text()
    assert code == 0, text
    polled = rf"^feeds: 1\n  {re.escape(url)}  polled \d+s ago: (ok: 2 entries|not modified)$"
    assert re.search(polled, status.stdout, re.M), status.stdout
    assert "Traceback" not in text
    state = await client.hgetall(Keys().feed_http(feed_id(url)))
    assert state[b"etag"] and state[b"outcome"].startswith((b"ok", b"not modified"))


async def test_one_worker_polls_a_feed_at_a_time_and_another_takes_over_when_it_dies(
    tmp_path: Path, config: Config, blog: tuple[LiveBlog, str]
) -> None:
    feed, url = blog
    cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url},
                       feeds=[{"url": url, "topic": "ukraine", "interval_seconds": 1}])  # fmt: skip
    log = tmp_path / "run.log"
    out = log.open("w")
    workers = [
        subprocess.Popen(  # noqa: ASYNC220 - started here, stopped below
            [sys.executable, "-m", "relay.cli", "--config", str(cfg), "run", "--consumer", name],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        for name in ("a", "b")
    ]
    try:
        await until(lambda: len(feed.peers) >= 4, workers[1], log)
        workers[0].kill()  # the poller or not: the feed goes on being polled, by one worker
        polls = len(feed.peers)
        await until(lambda: len(feed.peers) >= polls + 4, workers[1], log)
    finally:
        for proc in workers:
            proc.kill()
            await asyncio.to_thread(proc.wait, WAIT)
        out.close()
    # Each worker polls over its own connection: one run of polls per worker, never two at once.
    runs = [port for i, port in enumerate(feed.peers) if i == 0 or feed.peers[i - 1] != port]
    assert len(runs) <= 2 and len(set(runs)) == len(runs), feed.peers


def rss(*items: str) -> bytes:
    return f"<rss version='2.0'><channel><title>T</title>{''.join(items)}</channel></rss>".encode()


def test_rss_entries_become_items_oldest_first_with_their_image_and_link() -> None:
    items = feed_reader.read(rss(
        "<item><guid>b</guid><title>Second</title><pubDate>Tue, 01 Dec 2026 10:05:00 GMT</pubDate>"
        "<description>&lt;p&gt;Body&lt;/p&gt;</description><link>https://n.example/b</link>"
        "<enclosure url='https://n.example/b.jpg' type='image/jpeg' length='1'/></item>",
        "<item><guid>a</guid><title>First</title><pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate>"
        "<link>javascript:alert(1)</link></item>",
    ))  # fmt: skip
    assert [(i.key, i.headline) for i in items] == [("a", "First"), ("b", "Second")]
    assert items[0].link is None  # only web links are followed
    assert items[1].link == "https://n.example/b" and items[1].image == Image(
        "https://n.example/b.jpg"
    )
    assert items[1].body == "Body" and items[0].published < items[1].published


def test_atom_and_json_feed_are_read_and_anything_else_is_refused() -> None:
    atom = feed_reader.read(
        b"<feed xmlns='http://www.w3.org/2005/Atom'><title>T</title><entry><id>urn:x:1</id>"
        b"<title>Atom entry</title><updated>2026-12-01T10:00:00Z</updated>"
        b"<content type='html'>&lt;p&gt;Hello &lt;em&gt;world&lt;/em&gt;&lt;/p&gt;</content>"
        b"<author><name>Desk</name></author></entry></feed>"
    )
    assert [(i.key, i.headline, i.body, i.author) for i in atom] == [
        ("urn:x:1", "Atom entry", "Hello _world_", "Desk")
    ]
    note = {"id": "n1", "content_text": "A short note with no title, * and _ kept as text",
            "date_published": "2026-12-01T10:00:00+00:00",
            "authors": [{"name": "Ana"}]}  # fmt: skip
    [item] = feed_reader.read(json.dumps({"version": "https://jsonfeed.org/version/1.1",
                                          "items": [note]}).encode())  # fmt: skip
    assert item.headline == "A short note with no title, * and _ kept as text"
    assert markup.plain_text(markup.parse(item.body)) == note["content_text"]
    assert item.author == "Ana"
    for junk in (b"<html><body>Not a feed</body></html>", b'{"items": 3}', b"{nope"):
        with pytest.raises(ValueError):
            feed_reader.read(junk)


@pytest.mark.parametrize(
    ("html", "body"),
    [
        ("<p>Talks <b>resume</b> in <a href='https://n.example/g'>Geneva</a>.</p><p>Day 2</p>",
         "Talks **resume** in [Geneva](https://n.example/g).\n\nDay 2"),
        ("<p>2 * 3 = 6 and [brackets] _here_</p>", "2 \\* 3 = 6 and \\[brackets\\] \\_here\\_"),
        ("<ul><li>one</li><li>two</li></ul><script>evil()</script>", "• one\n• two"),
        ("line<br>break <a href='javascript:x'>no link</a>", "line\nbreak no link"),
        ("<b> spaced </b>word", "**spaced** word"),
    ],
)  # fmt: skip
def test_an_entrys_html_becomes_the_bodys_markdown(html: str, body: str) -> None:
    assert feed_reader.markdown(html) == body
    model.validate(Update(id="u", topic="ukraine", headline="h", body=body))


def test_every_item_is_an_update_ingest_accepts() -> None:
    long = "<p>" + "word " * 5000 + "</p>"
    [item] = feed_reader.read(rss(f"<item><guid>g</guid><title>{'T' * 400}</title>"
                                  f"<description>{escape(long)}</description></item>"))  # fmt: skip
    update = Update(id=update_id("https://n.example/f", item.key), topic="ukraine",
                    headline=item.headline, body=item.body)  # fmt: skip
    assert model.validate(update) == update
    assert len(item.headline) == model.MAX_HEADLINE and item.headline.endswith("…")
    assert update_id("https://n.example/f", "g") != update_id("https://n.example/g", "g")


@pytest.mark.parametrize(
    ("feeds", "key", "words"),
    [
        ([{"url": "ftp://n.example/f", "topic": "ukraine"}], "feeds[0].url", "http:// or https://"),
        ([{"url": "https://n.example/f", "topic": "sport"}], "feeds[0].topic", "unknown 'sport'"),
        ([{"url": "https://n.example/f", "topic": "ukraine", "interval_seconds": 0.2}],
         "feeds[0].interval_seconds", "at least 1"),
        ([{"url": "https://n.example/f", "topic": "ukraine"}] * 2, "feeds[1].url", "no other feed"),
        ([{"topic": "ukraine"}], "feeds[0].url", "required"),
    ],
)  # fmt: skip
def test_a_feed_the_relay_cannot_follow_is_refused_at_load(
    feeds: list[dict[str, object]], key: str, words: str
) -> None:
    from relay import config as config_mod

    with pytest.raises(ConfigError) as info:
        config_mod.parse({**BASE_CONFIG, "feeds": feeds}, "relay.yaml", {})
    assert info.value.key == key and words in info.value.expected, str(info.value)


async def test_a_feed_turned_off_is_not_polled_and_status_says_so(
    client: aioredis.Redis, config: Config, blog: tuple[LiveBlog, str]
) -> None:
    feed, url = blog
    off = FeedConfig(url=url, topic="ukraine", interval_seconds=1, enabled=False)
    stop = asyncio.Event()
    pipeline = Pipeline(client, config)
    following = asyncio.create_task(
        follow([off], pipeline.ingest, Claims(client, KEYS), client, KEYS, stop)
    )
    await asyncio.sleep(1.5)  # a poll's interval and more: an enabled feed is polled at once
    stop.set()
    await asyncio.wait_for(following, WAIT)
    assert feed.served == []
    assert await polls(client, KEYS, [off]) == [(url, None, "off (enabled: false)")]
