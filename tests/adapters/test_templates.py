"""A topic's template (`topics[].template`) on Discord and the console, and as `relay run`
prints it: the header line, the footer paragraph and the labels in place of the English ones.
Telegram: tests/adapters/telegram/test_templates.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay import config as config_mod
from relay.adapters.discord.render import render as discord_render
from relay.adapters.text import plain_text
from relay.config import Config, TopicConfig
from relay.errors import ConfigError
from relay.labels import Labels, Template
from relay.model import Image, Update
from tests.conftest import BASE_CONFIG
from tests.test_cli import post_to_console

LABELS = Labels(breaking="🔴 ТЕРМІНОВО", read_more="Детальніше", photo="Фото", by="Автор:")
TEMPLATE = Template(header="Наживо: війна", footer="Стежте за [нами](https://news.example/dc)",
                    labels=LABELS)  # fmt: skip
TOPIC = TopicConfig("ukraine", "War in Ukraine", hashtag="#Україна", template=TEMPLATE)
UPDATE = Update(id="t1", topic="ukraine", headline="Сирени в Києві", body="Укриттся.",
                breaking=True, author="Олена", link="https://news.example/a",
                image=Image("https://news.example/p.jpg", credit="Reuters"))  # fmt: skip


def test_discord_shows_the_header_label_footer_and_credit_of_the_topic() -> None:
    [payload] = discord_render(UPDATE, TOPIC)
    embed = payload["embeds"][0]
    assert embed["author"]["name"] == "🔴 ТЕРМІНОВО · Наживо: війна"
    assert embed["description"] == "Укриттся.\n\nСтежте за [нами](https://news.example/dc)"
    assert embed["footer"]["text"] == "Автор: Олена · Фото: Reuters · #Україна"
    plain = discord_render(
        Update(id="t2", topic="ukraine", headline="h"), TopicConfig("ukraine", "Ukraine")
    )
    assert plain[0]["embeds"][0]["author"]["name"] == "Ukraine"  # no template: as before


def test_the_console_prints_the_template_in_plain_words() -> None:
    assert plain_text(UPDATE, TOPIC).splitlines() == [
        "Наживо: війна", "[War in Ukraine] 🔴 ТЕРМІНОВО: Сирени в Києві", "Автор: Олена", "",
        "Укриттся.", "", "Стежте за нами (https://news.example/dc)", "",
        "Фото: https://news.example/p.jpg (Reuters)", "", "Детальніше: https://news.example/a",
        "", "#Україна",
    ]  # fmt: skip


def test_relay_run_renders_the_template_written_in_the_config(
    tmp_path: Path, config: Config
) -> None:
    template = {"header": "Live from the front", "footer": "More at **our site**",
                "labels": {"breaking": "URGENT"}}  # fmt: skip
    topics = [{"slug": "ukraine", "title": "War in Ukraine", "template": template}]
    posted, printed = post_to_console(
        tmp_path,
        config.redis.url,
        topics,
        "--headline",
        "Front line moves",
        "--body",
        "Details.",
        "--breaking",
    )
    assert posted.returncode == 0, posted.stdout + posted.stderr + printed
    assert (
        "Live from the front\n[War in Ukraine] URGENT: Front line moves\n\nDetails.\n\n"
        "More at our site" in printed
    ), printed


@pytest.mark.parametrize(
    ("template", "key", "words"),
    [
        ({"header": "two\nlines"}, "template.header", "single line"),
        ({"footer": "x" * 201}, "template.footer", "at most 200 characters"),
        ({"footer": "[](https://news.example)"}, "template.footer", "visible text"),
        ({"labels": {"breaking": " "}}, "template.labels.breaking", "it is empty"),
        ({"labels": {"photo": "P" * 41}}, "template.labels.photo", "at most 40"),
        ({"labels": {"read_more": 7}}, "template.labels.read_more", "must be a string"),
        ({"labels": {"more": "x"}}, "template.labels.more", "unknown key"),
    ],
)  # fmt: skip
def test_a_template_that_cannot_show_is_refused_at_load(
    template: dict[str, object], key: str, words: str
) -> None:
    data = {**BASE_CONFIG, "topics": [{"slug": "ukraine", "template": template}]}
    with pytest.raises(ConfigError) as info:
        config_mod.parse(data, "relay.yaml", {})
    assert info.value.key == f"topics[0].{key}", str(info.value)
    assert words in str(info.value), str(info.value)
