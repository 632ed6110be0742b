"""Readers' languages: the gettext catalogues of every reply, command description and label.

The messages are English in the code, marked `_("…")` (translated where they are made, in the
language of the moment: `speaking(lang)`), `ngettext("…", "…", n)` for a count, or `N_("…")`
(only marked: translated later with `translate(lang)`, e.g. the commands' descriptions). The
catalogues are `relay/locale/<lang>/LC_MESSAGES/relay.po`, read (with Babel) when a language is
first needed; a message a catalogue lacks stays English. Placeholders are `{name}`, filled by
`str.format` after translation.

`python -m relay.i18n` (`./dev messages`) extracts the marked messages from relay/ and brings
every catalogue up to date: a new message is added untranslated (English: the message itself),
a removed one dropped. tests/test_i18n.py fails while a catalogue misses a translation.
"""

from __future__ import annotations

import functools
import io
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

DOMAIN = "relay"
LOCALE = Path(__file__).parent / "locale"
DEFAULT = "en"  # the messages' own language, and every reader's whose language has no catalogue
LANGUAGES = tuple(sorted(p.name for p in LOCALE.iterdir() if (p / "LC_MESSAGES").is_dir()))
_TAG = re.compile(r"[A-Za-z]{2,3}")
_CURRENT: ContextVar[str] = ContextVar("relay_language", default=DEFAULT)


def N_(message: str) -> str:
    """Mark `message` for the catalogues without translating it here."""
    return message


def language_of(code: str | None) -> str:
    """The catalogue for a platform's language tag ("uk", "uk-UA", "en_US"); else English."""
    primary = re.split(r"[-_]", (code or "").strip(), maxsplit=1)[0].lower()
    return primary if _TAG.fullmatch(primary) and primary in LANGUAGES else DEFAULT


@functools.cache
def translate(language: str) -> Translations:
    """The translations of `language` (its gettext/ngettext); English for an unknown one."""
    language = language_of(language)
    with (LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)  # fuzzy and empty translations are left out: those stay English
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """`_` and `ngettext` translate into `language` inside the block (this task only)."""
    token = _CURRENT.set(language_of(language))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> str:
    """The language `_` translates into now."""
    return _CURRENT.get()


def _(message: str) -> str:
    """`message` in the language of the moment."""
    return translate(_CURRENT.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of `singular`/`plural` for the count `n`, in the language of the moment."""
    return translate(_CURRENT.get()).ngettext(singular, plural, n)


# -- the catalogues' upkeep (python -m relay.i18n) -------------------------------------------------


def extract() -> Catalog:
    """Every message marked in relay/ (what each catalogue must translate)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    template = Catalog(domain=DOMAIN, project="live-relay", fuzzy=False)
    root = Path(__file__).parent
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), method_map=[("**.py", "python")], keywords=_KEYWORDS
    ):
        template.add(message, None, [(f"relay/{filename}", lineno)],
                     auto_comments=comments, context=context)  # fmt: skip
    return template


_KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def _strings(string: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """A message's translation as its forms (one, or one per plural form)."""
    return (string or "",) if isinstance(string, str | None) else tuple(string)


def update() -> list[str]:
    """Bring every catalogue in line with the code; the messages still to translate."""
    from babel.messages.pofile import write_po

    missing = []
    for language in LANGUAGES:
        template = extract()  # afresh: a catalogue's update may take in the template's messages
        path = LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as po:
            catalog = read_po(po, locale=language, domain=DOMAIN)
        created = catalog.creation_date  # a date that changes each run is no change to review
        catalog.update(template, no_fuzzy_matching=True)
        catalog.creation_date = created
        for message in catalog:
            if not message.id:
                continue
            if language == DEFAULT and not any(_strings(message.string)):
                message.string = message.id  # English: the message is its own translation
            if not all(_strings(message.string)):
                missing.append(f"{language}: {message.id!r}")
        with path.open("wb") as po:
            write_po(po, catalog, width=100, ignore_obsolete=True, include_lineno=False)
    return missing


if __name__ == "__main__":
    todo = update()
    print("\n".join(["to translate:", *todo] if todo else ["every catalogue is complete"]))
    sys.exit(0)
