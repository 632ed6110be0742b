"""A topic's template on Telegram: its header line, footer paragraph and labels, as readers see
them, and a breaking update marked with the topic's own label still pinned and unpinned."""

from __future__ import annotations

from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.telegram import TelegramAdapter
from relay.config import TopicConfig
from relay.labels import Labels, Template
from relay.model import Destination, Image, Update
from tests.adapters.telegram.conftest import admin_group

UKRAINIAN = Labels(breaking="🔴 ТЕРМІНОВО", read_more="Детальніше", photo="Фото", by="Автор:")
TEMPLATE = Template(header="Наживо: війна", footer="Стежте за [нами](https://news.example/tg)",
                    labels=UKRAINIAN)  # fmt: skip
TOPIC = TopicConfig("ukraine", "War in Ukraine", hashtag="#Україна", template=TEMPLATE)
PINNED = TopicConfig("ukraine", "War in Ukraine", pin_breaking=True, template=TEMPLATE)


async def test_a_topics_template_frames_every_update(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    update = Update(id="t1", topic="ukraine", headline="Сирени в Києві", body="Укриттся.",
                    breaking=True, author="Олена", link="https://news.example/a")  # fmt: skip
    await adapter.send(Destination("telegram", str(reader.id)), update, TOPIC)
    shown = tg.control.transcript(reader.id, bot=account)[-1]
    assert shown.text == ("Наживо: війна\n🔴 ТЕРМІНОВО\nСирени в Києві\nАвтор: Олена\n\n"
                          "Укриттся.\n\nСтежте за нами\n\nДетальніше\n\n#Україна")  # fmt: skip
    assert '<a href="https://news.example/tg">нами</a>' in shown.html
    assert '<a href="https://news.example/a">Детальніше</a>' in shown.html
    photo = Update(id="t2", topic="ukraine", headline="Наслідки",
                   image=Image("https://news.example/p.jpg", credit="Reuters"))  # fmt: skip
    await adapter.send(Destination("telegram", str(reader.id)), photo, TOPIC)
    shown = tg.control.transcript(reader.id, bot=account)[-1]
    assert shown.caption is not None and "Фото: Reuters" in shown.caption


async def test_a_breaking_update_under_a_header_and_its_own_label_is_pinned_and_superseded(
    tg: TelegramSandbox, account: Bot, adapter: TelegramAdapter
) -> None:
    group = admin_group(tg, account)
    first = await adapter.send(
        group.dest, Update("b1", "ukraine", headline="Перше", breaking=True), PINNED
    )
    assert group.pinned() == [int(first[0])]
    second = await adapter.send(
        group.dest, Update("b2", "ukraine", headline="Друге", breaking=True), PINNED
    )
    assert group.pinned() == [int(second[0])]  # the first one, read as ours and breaking, unpinned
