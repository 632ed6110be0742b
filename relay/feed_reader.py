"""Reading a feed (RSS or Atom through feedparser, JSON Feed as JSON) into the entries it lists.

Each entry becomes an `Item`: its stable key (the entry's id, else its link), a one-line
headline (its title, else the start of its text), a body in the Markdown subset updates use
(`relay.markup`: paragraphs, line breaks, **bold**, _italic_ and links, everything else as
escaped text), its link, its image (an enclosure or media item that is an image) and author,
each cut to the update's limits. Items come oldest first, the order they are published in.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import feedparser

from relay.model import MAX_AUTHOR, MAX_BODY, MAX_HEADLINE, MAX_URL, Image

UNTITLED = 120  # characters of the text that title an entry with no title
_SPECIAL = re.compile(r"([\\`*_\[\]>#!|<~])")
_SPACE = re.compile(r"\s+")
_GAP = re.compile(r"  +")
_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table",
           "tr", "section", "article", "figure", "figcaption", "header", "footer"}  # fmt: skip
_MARKS = {"b": "**", "strong": "**", "i": "_", "em": "_"}
_SKIPPED = {"script", "style", "template", "head"}


@dataclass(frozen=True)
class Item:
    """One entry of a feed, as an update's fields."""

    key: str
    headline: str
    body: str = ""
    link: str | None = None
    image: Image | None = None
    author: str = ""
    published: float = 0.0  # seconds since the epoch; 0 when the feed gives no date

    @property
    def fingerprint(self) -> str:
        """Changes when what readers see of the entry changes (its date alone does not)."""
        image = (self.image.url, self.image.caption, self.image.credit) if self.image else None
        seen = [self.headline, self.body, self.link, image, self.author]
        return hashlib.sha1(json.dumps(seen).encode()).hexdigest()[:20]


class _Markdown(HTMLParser):
    """HTML as the Markdown subset: a stack of open inline spans, closed into their parent."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.spans: list[tuple[str, str, list[str]]] = [("", "", [])]  # tag, href, text
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self.spans[-1][2].append("\n")
        elif tag == "li":
            self.spans[-1][2].append("\n• ")
        elif tag in _BLOCKS:
            self.spans[-1][2].append("\n\n")
        elif tag in _MARKS or tag == "a":
            self.spans.append((tag, dict(attrs).get("href") or "", []))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.spans[-1][2].append("\n\n")
        elif len(self.spans) > 1 and self.spans[-1][0] == tag:
            self._close()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.spans[-1][2].append(_SPECIAL.sub(r"\\\1", _SPACE.sub(" ", data)))

    def _close(self) -> None:
        tag, href, parts = self.spans.pop()
        text = "".join(parts)
        inner = text.strip()
        lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
        if inner and tag == "a" and _web_url(href):
            href = href.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
            inner = f"[{inner}]({href})"
        elif inner and tag in _MARKS and "\n" not in inner:
            inner = f"{_MARKS[tag]}{inner}{_MARKS[tag]}"
        self.spans[-1][2].append(lead + inner + trail)

    def markdown(self) -> str:
        while len(self.spans) > 1:
            self._close()
        lines = [_GAP.sub(" ", line.strip()) for line in "".join(self.spans[0][2]).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def markdown(html: str) -> str:
    """An entry's HTML as the body's Markdown subset."""
    parser = _Markdown()
    parser.feed(html)
    parser.close()
    return parser.markdown()


def _web_url(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("http://", "https://")) and len(url) <= MAX_URL


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _item(key: str, title: str, html: str, text: str, link: Any, image: Any, author: str,
          published: float) -> Item:  # fmt: skip
    body = markdown(html) if html else _SPECIAL.sub(r"\\\1", text.strip())
    headline = _SPACE.sub(" ", title).strip()
    if not headline:  # a microblog's entry: its first words title it
        plain = _SPACE.sub(" ", re.sub(r"\\(.)", r"\1", body)).strip()
        headline = _cut(plain, UNTITLED)
    return Item(
        key=key,
        headline=_cut(headline, MAX_HEADLINE),
        body=_cut(body, MAX_BODY),
        link=link if _web_url(link) else None,
        image=Image(image) if _web_url(image) else None,
        author=_cut(_SPACE.sub(" ", author).strip(), MAX_AUTHOR),
        published=published,
    )


def _oldest_first(items: list[Item]) -> list[Item]:
    """Feeds list the newest first; by date when every entry has one."""
    if items and all(item.published for item in items):
        return sorted(items, key=lambda item: item.published)
    return items[::-1]


def _json_feed(data: dict[str, Any]) -> list[Item]:
    items = []
    for entry in data.get("items") or []:
        if not isinstance(entry, dict) or not str(entry.get("id") or entry.get("url") or ""):
            continue
        authors = entry.get("authors") or [entry.get("author") or {}]
        author = authors[0].get("name", "") if authors and isinstance(authors[0], dict) else ""
        try:
            when = datetime.fromisoformat(str(entry.get("date_published"))).timestamp()
        except ValueError:
            when = 0.0
        items.append(_item(str(entry.get("id") or entry.get("url")), str(entry.get("title") or ""),
                           str(entry.get("content_html") or ""),
                           str(entry.get("content_text") or entry.get("summary") or ""),
                           entry.get("url"), entry.get("image") or entry.get("banner_image"),
                           str(author), when))  # fmt: skip
    return items


def _image(entry: Any) -> str | None:
    for media in [*entry.get("media_content", []), *entry.get("enclosures", [])]:
        url = media.get("url") or media.get("href")
        kind = media.get("type") or ""
        if url and (kind.startswith("image/") or media.get("medium") == "image"):
            return str(url)
    thumbnails = entry.get("media_thumbnail") or []
    return str(thumbnails[0].get("url")) if thumbnails and thumbnails[0].get("url") else None


def read(body: bytes) -> list[Item]:
    """The entries of a feed document, oldest first; `ValueError` if it is no feed."""
    if body.lstrip()[:1] == b"{":
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"JSON Feed that is no JSON: {exc}") from None
        if not isinstance(data, dict) or "version" not in data or "items" not in data:
            raise ValueError("JSON without a JSON Feed's version and items")
        return _oldest_first(_json_feed(data))
    parsed = feedparser.parse(body)
    if not parsed.get("version") and not parsed.entries:
        raise ValueError(str(parsed.get("bozo_exception") or "no RSS or Atom feed"))
    items = []
    for entry in parsed.entries:
        key = entry.get("id") or entry.get("link")
        if not key:
            continue
        html = entry.content[0].get("value", "") if entry.get("content") else ""
        html = html or entry.get("summary", "")
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        when = float(calendar.timegm(stamp)) if stamp else 0.0
        items.append(_item(str(key), entry.get("title", ""), html, "", entry.get("link"),
                           _image(entry), entry.get("author", ""), when))  # fmt: skip
    return _oldest_first(items)
