"""A topic's template (`topics[].template`): its header and footer lines and the words of its
labels, which every platform's rendering uses instead of the built-in English ones.

- `header`: one line of plain text above each update's headline (Discord: the embed's author
  line, in place of the topic's title).
- `footer`: a paragraph of the body's Markdown (bold, italic, links) after each update's body.
- `labels`: the breaking-news marker, the "Read more" link, the word before a photo's credit
  and before an author's name. A label left out is the catalogue's word in the topic's
  `language` (relay.i18n; "🔴 ТЕРМІНОВО" for `uk`); one written here wins over the catalogue.

Validated when the config loads: each a single line (the footer may not hold a break either),
within its length, with no control character; the footer parsed by the one Markdown reader.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Annotated, Any

from relay import markup
from relay.errors import InvalidUpdate
from relay.i18n import N_, translate
from relay.model import text_field
from relay.settings import Refused, Rule

MAX_LABEL = 40
MAX_LINE = 200


def _text(raw: Any, limit: int, empty: bool) -> str:
    try:
        text = text_field("text", raw, limit).strip()
    except InvalidUpdate as exc:
        raise Refused(exc.message) from None
    if not text and not empty:
        raise Refused("it is empty")
    return text


def _line(limit: int, empty: bool) -> Rule:
    blank = "" if empty else ", not empty"
    return Rule(f"one line of at most {limit} characters{blank}",
                parse=lambda raw: _text(raw, limit, empty))  # fmt: skip


def _footer(raw: Any) -> str:
    text = _text(raw, MAX_LINE, True)
    if text and not markup.plain_text(markup.parse(text)).strip():
        raise Refused("a line with visible text (Markdown that shows nothing is no footer)")
    return text


Label = Annotated[str, _line(MAX_LABEL, False)]
Line = Annotated[str, _line(MAX_LINE, True)]
Footer = Annotated[str, Rule(f"one line of Markdown of at most {MAX_LINE} characters",
                             parse=_footer)]  # fmt: skip


# The built-in labels, in English; a topic's language gives them from its catalogue
ENGLISH = {
    "breaking": N_("🔴 BREAKING"),
    "read_more": N_("Read more"),
    "photo": N_("Photo"),  # before a credit that does not say what it is: "Photo: AP"
    "by": N_("By"),  # before the author's name: "By Jane Doe"
}


@dataclass(frozen=True)
class Labels:
    """The words renderings put around an update's own text ("": the built-in one, in the
    topic's language; `in_language` fills them in)."""

    breaking: Label = ""
    read_more: Label = ""
    photo: Label = ""
    by: Label = ""

    def in_language(self, language: str) -> Labels:
        """These labels, each left empty the catalogue's word in `language`."""
        said = translate(language).gettext
        empty = {f.name: said(ENGLISH[f.name]) for f in fields(self) if not getattr(self, f.name)}
        return replace(self, **empty) if empty else self


@dataclass(frozen=True)
class Template:
    """A topic's header and footer lines and its labels."""

    header: Line = ""
    footer: Footer = ""
    labels: Labels = Labels()


DEFAULT = Template(labels=Labels().in_language("en"))


def with_footer(body: str, template: Template) -> str:
    """The body with the template's footer as its last paragraph."""
    if not template.footer:
        return body
    return f"{body}\n\n{template.footer}" if body.strip() else template.footer
