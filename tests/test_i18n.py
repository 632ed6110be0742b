"""The catalogues: every marked message translated in every language, the same placeholders,
the platform's language tags read, and the labels of a topic in its language."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from relay import i18n
from relay.config import Config, ConfigError, TopicConfig
from relay.labels import Labels, Template
from relay.replies import DESCRIPTIONS, published
from tests.test_cli import post_to_console, relay_cmd, write_config

_FIELDS = string.Formatter()


def _catalogue(language: str) -> Catalog:
    with (i18n.LOCALE / language / "LC_MESSAGES" / "relay.po").open("rb") as po:
        return read_po(po, locale=language)


def _forms(message: Message) -> tuple[str, ...]:
    return (message.id,) if isinstance(message.id, str) else tuple(message.id)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in _FIELDS.parse(text) if name is not None}


def test_english_and_ukrainian_have_catalogues() -> None:
    assert {"en", "uk"} <= set(i18n.LANGUAGES)


def test_the_extraction_finds_the_bots_messages() -> None:
    ids = {_forms(m)[0] for m in i18n.extract() if m.id}
    # a sample from each place: core replies, menus, labels, both adapters, the authorities
    assert {"Subscribed to {topics}.", "Receive a topic's live updates here", "Read more",
            "Delivery: {progress}", "Sorry, that did not work on our side. Please try again later.",
            "Run this command in the channel it is about.", "that chat"} <= ids  # fmt: skip
    assert len(ids) > 60


def _problems(catalogue: Catalog) -> dict[str, list[object]]:
    """What the catalogue lacks of the extracted messages, or gets wrong."""
    found: dict[str, list[object]] = {"missing": [], "fuzzy": [], "empty": [], "placeholders": []}
    for message in i18n.extract():
        if not message.id:
            continue
        entry = catalogue.get(message.id)
        if entry is None:
            found["missing"].append(message.id)
            continue
        strings = (entry.string,) if isinstance(entry.string, str) else tuple(entry.string)
        if entry.fuzzy:
            found["fuzzy"].append(message.id)
        if not all(strings):
            found["empty"].append(message.id)
        wanted = set().union(*(_placeholders(form) for form in _forms(entry)))
        found["placeholders"] += [s for s in strings if s and _placeholders(s) != wanted]
    return found


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    # run ./dev messages, then translate what it lists (README, Development)
    assert _problems(_catalogue(language)) == {
        "missing": [], "fuzzy": [], "empty": [], "placeholders": []
    }  # fmt: skip


def test_the_check_catches_a_missing_an_empty_a_fuzzy_and_a_broken_translation() -> None:
    catalogue = _catalogue("uk")
    ids = [m.id for m in i18n.extract() if m.id and isinstance(m.id, str)][:4]
    catalogue.delete(ids[0])
    catalogue[ids[1]].string = ""
    catalogue[ids[2]].flags.add("fuzzy")
    catalogue[ids[3]].string = "{oops}"
    assert _problems(catalogue) == {
        "missing": [ids[0]], "empty": [ids[1]], "fuzzy": [ids[2]], "placeholders": ["{oops}"]
    }  # fmt: skip


@pytest.mark.parametrize(
    ("tag", "language"),
    [("uk", "uk"), ("uk-UA", "uk"), ("UK", "uk"), ("en-US", "en"), ("en-GB", "en"),
     ("pt-br", "en"), ("", "en"), (None, "en"), ("zz-uk", "en"), ("../uk", "en")],
)  # fmt: skip
def test_a_platforms_language_tag_picks_a_catalogue_or_english(
    tag: str | None, language: str
) -> None:
    assert i18n.language_of(tag) == language


def test_translation_follows_the_language_of_the_moment() -> None:
    assert i18n._("Read more") == "Read more"
    with i18n.speaking("uk-UA"):
        assert i18n._("Read more") == "Читати далі"
        forms = [i18n.ngettext("{count} subscribed chat", "{count} subscribed chats", n)
                 for n in (1, 2, 5, 11, 21, 0)]  # fmt: skip
        assert [f.format(count=n) for f, n in zip(forms, (1, 2, 5, 11, 21, 0), strict=True)] == [
            "1 підписаний чат", "2 підписані чати", "5 підписаних чатів", "11 підписаних чатів",
            "21 підписаний чат", "0 підписаних чатів",
        ]  # fmt: skip
        with i18n.speaking("fr"):
            assert i18n._("Read more") == "Read more"
        assert i18n.current() == "uk"
    assert i18n.current() == "en"


def test_a_confirmation_counts_chats_in_the_editors_language() -> None:
    assert published("u1", "War (ukraine)", 1) == (
        "Published update u1 to War (ukraine): on its way to 1 subscribed chat."
    )
    assert published("u1", "War (ukraine)", 1200).endswith("on its way to 1,200 subscribed chats.")
    with i18n.speaking("uk"):
        said = [published("u1", "Війна", n).partition(": ")[2] for n in (1, 3, 5, 22)]
    assert said == ["надсилаємо його в 1 підписаний чат.", "надсилаємо його в 3 підписані чати.",
                    "надсилаємо його в 5 підписаних чатів.",
                    "надсилаємо його в 22 підписані чати."]  # fmt: skip


def test_menu_descriptions_fit_discord_and_telegram() -> None:
    for language in i18n.LANGUAGES:
        said = i18n.translate(language).gettext
        for description in DESCRIPTIONS.values():
            assert 1 <= len(said(description)) <= 100, (language, description)  # Discord's max


def test_a_topics_labels_follow_its_language_and_its_own_words_win() -> None:
    english = TopicConfig("ukraine", "War")
    assert english.template.labels == Labels("🔴 BREAKING", "Read more", "Photo", "By")
    ukrainian = TopicConfig("ukraine", "War", language="uk")
    assert ukrainian.template.labels == Labels("🔴 ТЕРМІНОВО", "Читати далі", "Фото", "Автор:")
    own = TopicConfig("ukraine", "War", language="uk",
                      template=Template(labels=Labels(read_more="Детальніше")))  # fmt: skip
    assert own.template.labels == Labels("🔴 ТЕРМІНОВО", "Детальніше", "Фото", "Автор:")


def test_a_topics_language_is_validated_when_the_config_loads(make_config: object) -> None:
    build = make_config  # type: ignore[assignment]
    topic = {"slug": "ukraine", "title": "War", "language": "uk"}
    config = build(topics=[topic])  # type: ignore[operator]
    assert config.topics[0].template.labels.breaking == "🔴 ТЕРМІНОВО"
    with pytest.raises(ConfigError, match=re.escape("topics[0].language: a language among en, uk")):
        build(topics=[{**topic, "language": "fr"}])  # type: ignore[operator]


def test_relay_run_labels_a_ukrainian_topics_updates_in_ukrainian(
    tmp_path: Path, config: Config
) -> None:
    topics = [{"slug": "ukraine", "title": "Війна", "language": "uk",
               "template": {"labels": {"by": "Пише"}}}]  # fmt: skip
    posted, printed = post_to_console(
        tmp_path, config.redis.url, topics, "--headline", "Сирени в Києві", "--body",
        "Укриття.", "--breaking", "--author", "Олена", "--link", "https://news.example/a",
    )  # fmt: skip
    assert posted.returncode == 0, posted.stdout + posted.stderr + printed
    assert "[Війна] 🔴 ТЕРМІНОВО: Сирени в Києві\nПише Олена" in printed, printed
    assert "Читати далі: https://news.example/a" in printed, printed


def test_relay_check_refuses_a_language_without_a_catalogue(tmp_path: Path, config: Config) -> None:
    topics = [{"slug": "ukraine", "language": "fr"}]
    cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url}, topics=topics)
    checked = relay_cmd("--config", str(cfg), "check")
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert "topics[0].language: a language among en, uk" in checked.stderr, checked.stderr
