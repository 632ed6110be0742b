"""Telegram and Discord show a body the same: the same text, styles and link targets.

Telegram's side is read by the sandbox's TDLib-faithful HTML parser. Discord has no parser in
the sandbox, so `discord_chars` below is a model of Discord's Markdown: the rules and regular
expressions of simple-markdown (the library Discord's client grew from), plus Discord's own
spoilers, mentions, `@everyone`, headings, lists and per-line `> ` quotes. A rule it applies
that our renderer did not mean (a stray italic, a swallowed backslash, a mention) changes the
characters or styles it returns, and the comparison fails.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_sandbox.telegram.html import process_text

from relay.adapters.discord.render import render as discord_render
from relay.adapters.telegram import TelegramMessage
from relay.adapters.telegram import render as telegram_render
from relay.config import TopicConfig
from relay.markup import parse
from relay.model import Update
from tests.test_markup import CASES, Char, Run, reads, runs, tree_chars

TOPIC = TopicConfig("ukraine", "War in Ukraine")
# What Telegram drops or rewrites when it cleans a text (formatted_text._clean), and ZWSP.
_IGNORED = "\u200b\r\u030a\u0333\u033f\u200c\u200e\u200f" + "".join(map(chr, range(0x2028, 0x202F)))

# --- Discord's Markdown, modelled on simple-markdown ------------------------------------------

_ESCAPE = re.compile(r"\\([^0-9A-Za-z\s])")
_AUTOLINK = re.compile(r"<([^: >]+:/[^ >]+)>")
_URL = re.compile(r"(https?://[^\s<]+[^<.,:;\"')\]\s])")
_LINK = re.compile(
    r"\[((?:\[[^\]]*\]|[^\[\]]|\](?=[^\[]*\]))*)\]"
    r"\(\s*<?((?:\([^)]*\)|[^\s\\])*?)>?(?:\s+['\"]([\s\S]*?)['\"])?\s*\)"
)
# simple-markdown's `^\b_`: at the start of the rest of the text, `\b` before `_` always holds
_EM = re.compile(
    r"_((?:__|\\[\s\S]|[^\\_])+?)_(?![A-Za-z0-9_])"
    r"|\*(?=\S)((?:\*\*|\\[\s\S]|\s+(?:\\[\s\S]|[^\s*\\]|\*\*)|[^\s*\\])+?)\*(?!\*)"
)
_STRONG = re.compile(r"\*\*((?:\\[\s\S]|[^\\])+?)\*\*(?!\*)")
_UNDERLINE = re.compile(r"__((?:\\[\s\S]|[^\\])+?)__(?!_)")
_EMPHASIS = ((_EM, "italic", 0.2), (_STRONG, "bold", 0.1), (_UNDERLINE, "underline", 0.0))
_OTHER = {  # Discord syntax our renderer must never produce from editor text
    "strike": re.compile(r"~~(?=\S)((?:\\[\s\S]|~(?!~)|[^\s~\\]|\s(?!~~))+?)~~"),
    "code": re.compile(r"(`+)([\s\S]*?[^`])\1(?!`)"),
    "spoiler": re.compile(r"\|\|([\s\S]+?)\|\|"),
}
_MENTION = re.compile(
    r"<(?:@[!&]?\d+|#\d+|t:-?\d+(?::[tTdDfFR])?|a?:\w+:\d+|/[^>]+:\d+)>|@everyone|@here"
)
_TEXT = re.compile(r"[\s\S]+?(?=[^0-9A-Za-z\s\u00c0-\uffff]|\n\n| {2,}\n|[A-Za-z0-9_]+:\S|\Z)")
_BLOCK = re.compile(r"(?:#{1,3} |-# | *[-*] | *\d+\. )")


def _inline(text: str, styles: frozenset[str], href: str | None) -> list[Char]:
    out: list[Char] = []
    i = 0
    while i < len(text):
        if m := _ESCAPE.match(text, i):
            out.append((m.group(1), styles, href))
        elif m := _AUTOLINK.match(text, i) or _URL.match(text, i):
            out.extend((c, styles, href) for c in m.group(1))
        elif m := _LINK.match(text, i):
            out.extend(_inline(m.group(1), styles, m.group(2)))
        elif best := max(
            ((m, style, bonus) for rule, style, bonus in _EMPHASIS if (m := rule.match(text, i))),
            key=lambda found: len(found[0].group()) + found[2],  # simple-markdown's "quality"
            default=None,
        ):
            m, style, _ = best
            inner = m.group(1) if m.group(1) is not None else m.group(2)
            out.extend(_inline(inner, styles | {style}, href))
        elif found := next(((k, m) for k, r in _OTHER.items() if (m := r.match(text, i))), None):
            kind, m = found
            out.extend((c, styles | {kind}, href) for c in m.group(m.lastindex or 0))
        elif m := _MENTION.match(text, i):
            out.extend((c, styles | {"mention"}, href) for c in m.group())
        else:
            m = _TEXT.match(text, i)
            assert m is not None
            out.extend((c, styles, href) for c in m.group())
        i = m.end()
    return out


def discord_chars(markdown: str) -> list[Char]:
    """What Discord shows for our Markdown, character by character."""
    out: list[Char] = []
    group: list[str] = []
    quoted = False
    for line in [*markdown.split("\n"), None]:
        is_quote = line is not None and line.startswith("> ")
        if group and (line is None or is_quote != quoted):
            out.extend(_inline("\n".join(group), frozenset({"quote"} if quoted else ()), None))
            out.append(("\n", frozenset(), None))
            group = []
        if line is None:
            break
        quoted = is_quote
        content = line[2:] if is_quote else line
        block = _BLOCK.match(content)
        if block:  # a heading or a list item: Discord eats the marker
            out.append(("\n", frozenset({"block"}), None))
            content = content[block.end() :]
        group.append(content)
    return out


# --- both renderings of one body --------------------------------------------------------------


def _utf16_offsets(text: str) -> list[int]:
    offsets, at = [], 0
    for c in text:
        offsets.append(at)
        at += 2 if ord(c) > 0xFFFF else 1
    return offsets


def telegram_chars(message: TelegramMessage) -> list[Char]:
    text, entities = process_text(message.html, "html", caption=message.is_photo)
    offsets = _utf16_offsets(text)
    chars: list[Char] = []
    for c, at in zip(text, offsets, strict=True):
        styles: set[str] = set()
        href = None
        for e in entities:
            if e.offset <= at < e.end:
                if e.type == "text_link":
                    href = e.url
                else:
                    styles.add({"blockquote": "quote"}.get(e.type, e.type))
        chars.append((c, frozenset(styles), href))
    return chars


def both(body: str) -> tuple[tuple[Run, ...], tuple[Run, ...]]:
    """(Telegram, Discord) readings of a body short enough for one message."""
    update = Update(id="u1", topic="ukraine", headline="H", body=body)
    [message] = telegram_render(update, TOPIC)
    telegram = telegram_chars(message)
    assert telegram[0] == ("H", frozenset({"bold"}), None)  # the headline
    [payload] = discord_render(update, TOPIC)
    [embed] = payload["embeds"]
    discord = discord_chars(str(embed.get("description", "")))
    return runs(telegram[1:], _IGNORED), runs(discord, _IGNORED)


def test_each_case_of_the_issue_shows_the_same_on_both_as_commonmark_reads_it() -> None:
    for name, (body, expected) in CASES.items():
        telegram, discord = both(body)
        assert telegram == expected, f"telegram: {name}"
        assert discord == expected, f"discord: {name}"


def test_the_discord_model_sees_what_escaping_prevents() -> None:
    # the model is strict enough to fail: unescaped editor text turns into Discord syntax
    assert runs(discord_chars("snake_case_ x")) != (("snake_case_ x", frozenset(), None),)
    assert runs(discord_chars("https://x.org/a\\_b")) == (
        ("https://x.org/a\\_b", frozenset(), None),
    )
    assert runs(discord_chars("*a***b**")) != runs(discord_chars("*a*\u200b**b**"))
    assert runs(discord_chars("<@1> ~~s~~")) != (("<@1> ~~s~~", frozenset(), None),)


def test_bodies_that_stretched_the_old_readers() -> None:
    for body in (
        "_see https://x.org/a_b_ now_ and *https://y.org/c*d",
        "see snake_case_name at https://ex.com/a_b*c",
        "[a](https://x.org/) b](https://y.org/) [c[d]e](https://z.org/f)",
        "*a***b** **c***d* ***e*** _f_g *h*i",
        "![alt](https://x.org/p_q.png) `code` <https://x.org/_u_> ~~s~~ ||p|| @everyone <@1>",
        "> quoted **bold\n> across** lines\n>\n> > nested [link](https://x.org/a(b)c)",
        "https://x.org/a) and (https://y.org/b_(c)) and https://z.org/d.",
    ):
        telegram, discord = both(body)
        assert telegram == discord == reads(body), body


# --- the property ---------------------------------------------------------------------------

_TOKENS = ["*", "**", "_", "__", "***", "[", "]", "(", ")", "](", ">", "> ", "\\", "#", "# ",
           "\n", "\n\n", " ", "  ", "!", "<", ">", "&amp;", "@everyone", "@here", "<@1>", "~~",
           "`", "||", "-", "1. ", "- ", ":", "війна", "café", "ü", "😀", "שלום", "a", "b", "1",
           "https://example.org/_a_/b", "https://x.org/a(b)", "http://y.org/p*q", "https://",
           "https://e.org/?q=1&r=<2>", "http:/", "HTTPS://X.ORG/_z_", "https://x.org)",
           "[l](https://x.org/a_b)", "[l](javascript:x)", "(https://w.org/b_(c))", "www.x.org",
           "mailto:a@b.org", "https://x.org/@everyone", "[**b** _i_](https://x.org/(p))",
           "![i](https://x.org/i.png)", "[x](https://x.org/a*b)", "[x]()", "[y]( )"]  # fmt: skip
bodies = st.lists(
    st.one_of(
        st.sampled_from(_TOKENS), st.text(st.characters(exclude_categories=("Cs",)), max_size=6)
    ),
    max_size=60,
).map("".join)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies)
def test_any_body_shows_the_same_text_styles_and_links_on_both(body: str) -> None:
    telegram, discord = both(body)
    assert telegram == discord
    assert telegram == runs(tree_chars(parse(body)), _IGNORED)


_MARKER = re.compile(r"\s*\((\d+)/(\d+)\)$")


def _flat(found: tuple[Run, ...]) -> tuple[Run, ...]:
    """Runs without spaces: the platforms cut a long body in different places."""
    out: list[Run] = []
    for text, styles, href in found:
        if out and out[-1][1:] == (styles, href):
            out[-1] = (out[-1][0] + text.replace(" ", ""), styles, href)
        else:
            out.append((text.replace(" ", ""), styles, href))
    return tuple(out)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.builds(lambda body, n: (body * n)[:10_000], bodies, st.integers(1, 400)))
def test_a_long_body_split_into_parts_still_shows_the_same_on_both(body: str) -> None:
    update = Update(id="u1", topic="ukraine", headline="H", body=body)
    telegram: list[Char] = []
    for message in telegram_render(update, TOPIC):
        chars = telegram_chars(message)
        marker = _MARKER.search("".join(c for c, _, _ in chars))
        telegram += [*chars[: marker.start() if marker else None], ("\n", frozenset(), None)]
    discord: list[Char] = []
    for payload in discord_render(update, TOPIC):
        for embed in payload["embeds"]:
            discord += [*discord_chars(embed.get("description", "")), ("\n", frozenset(), None)]
    assert _flat(runs(telegram[1:], _IGNORED)) == _flat(runs(discord, _IGNORED))
