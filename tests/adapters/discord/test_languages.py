"""Readers' languages on Discord, through a real discord.Client and the sandbox: answers in the
member's client `locale`, the commands' descriptions localized, a topic's labels in its
language."""

from __future__ import annotations

from typing import Any

from relay_sandbox.discord import DiscordSandbox, InteractionResult

from relay.adapters.discord import DiscordAdapter
from relay.commands import Commands
from relay.config import TopicConfig
from relay.model import Destination, Image, Update
from tests.adapters.discord.test_commands import posts, text
from tests.sandbox.discord.conftest import Newsroom


async def run(
    sandbox: DiscordSandbox, newsroom: Newsroom, user_id: int, name: str,
    options: dict[str, Any] | None = None, *, locale: str, channel: int | None = None,
) -> InteractionResult:  # fmt: skip
    """`user_id`, their client in `locale`, runs `/name` and waits for the answer."""
    handle = sandbox.control.invoke(newsroom.bot.application_id, newsroom.guild_id,
                                    channel or newsroom.live_id, user_id, name, options,
                                    locale=locale)  # fmt: skip
    return await handle.wait(lambda r: r.original is not None and r.response_type != 5)


async def test_a_member_is_answered_in_the_language_of_their_client(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, commands: Commands
) -> None:
    owner, reader = newsroom.owner_id, newsroom.reader_id
    ok = await run(sandbox, newsroom, owner, "subscribe", {"topic": "ukraine"}, locale="uk")
    assert text(ok) == "Підписано на War in Ukraine (ukraine)."
    refused = await run(sandbox, newsroom, reader, "subscribe", {"topic": "climate"}, locale="uk")
    assert text(refused) == (
        "Це можуть робити лише учасники з дозволом «Керувати каналами» в цьому каналі."
    )
    readonly = await run(sandbox, newsroom, owner, "subscribe", {"topic": "climate"},
                         locale="uk", channel=newsroom.readonly_id)  # fmt: skip
    assert text(readonly) == (
        "Я не можу тут публікувати: мені бракує дозволів Send Messages, Embed Links у цьому "
        "каналі. Нічого не змінено."
    )
    helped = await run(sandbox, newsroom, reader, "help", locale="uk")
    assert text(helped).startswith("Цей бот передає в цей канал оновлення редакції")
    english = await run(sandbox, newsroom, owner, "subscribe", {"topic": "climate"},
                        locale="en-US")  # fmt: skip
    assert text(english) == "Subscribed to Climate summit (climate)."
    other = await run(sandbox, newsroom, owner, "subscribe", {"topic": "climate"}, locale="fr")
    assert text(other) == "Already subscribed to Climate summit (climate)."
    live = Destination("discord", str(newsroom.live_id))
    assert await commands.subscriptions.topics(live) == ["climate", "ukraine"]


async def test_the_commands_descriptions_are_localized_in_ukrainian(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    synced = {c.name: c.payload for c in sandbox.world.commands.values()
              if c.guild_id == newsroom.guild_id}  # fmt: skip
    subscribe = synced["subscribe"]
    assert subscribe["description"] == "Receive a topic's live updates here"
    assert subscribe["description_localizations"] == {"uk": "Отримувати тут оновлення теми"}
    [topic] = subscribe["options"]
    assert topic["description_localizations"] == {"uk": "Тема, яку отримуватиме цей канал"}
    assert not subscribe.get("name_localizations")  # a command is typed the same everywhere
    assert synced["post"]["description_localizations"] == {
        "uk": "Редакторам: опублікувати оновлення"
    }


async def test_a_ukrainian_topics_embeds_carry_ukrainian_labels(
    adapter: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    topic = TopicConfig("ukraine", "Війна", hashtag="#Україна", language="uk")
    update = Update(id="u1", topic="ukraine", headline="Сирени в Києві", body="Укриття.",
                    breaking=True, author="Олена", link="https://news.example/a",
                    image=Image("https://news.example/p.jpg", credit="Reuters"))  # fmt: skip
    await adapter.send(Destination("discord", str(newsroom.live_id)), update, topic)
    [view] = posts(sandbox, newsroom.live_id)
    [embed] = view.embeds
    assert embed["author"]["name"] == "🔴 ТЕРМІНОВО · Війна"
    assert embed["footer"]["text"] == "Автор: Олена · Фото: Reuters · #Україна"


async def test_a_ukrainian_editors_form_and_answers_are_in_ukrainian(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom, editor_id: int
) -> None:
    control, ids = sandbox.control, (newsroom.bot.application_id, newsroom.guild_id)
    reader = await run(sandbox, newsroom, newsroom.reader_id, "post", locale="uk")
    assert text(reader) == "Команда /post доступна лише редакторам."
    form = await control.invoke(*ids, newsroom.live_id, editor_id, "post", {"topic": "ukraine"},
                                locale="uk").response()  # fmt: skip
    assert form.response_type == 9 and form.response_data is not None
    assert form.response_data["title"] == "Нове оновлення"
    labels = [row["components"][0].get("label") for row in form.response_data["components"]]
    assert labels == ["Тема", "Заголовок", "Текст", "Посилання («Читати далі»)",
                      "Фото: URL, автор, підпис (кожне з рядка)"]  # fmt: skip
    handle = control.submit_modal(*ids, newsroom.live_id, editor_id, "relay:post", {
        "topic": "ukraine", "headline": "Сирени", "body": "", "link": "ftp://x", "image": "",
    }, locale="uk")  # fmt: skip
    refused = await handle.wait(lambda r: r.original is not None)
    assert text(refused).startswith("Нічого не змінено: link: ")
    await control.invoke(*ids, newsroom.live_id, editor_id, "post", locale="uk").response()
    handle = control.submit_modal(*ids, newsroom.live_id, editor_id, "relay:post", {
        "topic": "ukraine", "headline": "Сирени", "body": "Укриття.", "link": "", "image": "",
    }, locale="uk")  # fmt: skip
    posted = await handle.wait(lambda r: r.original is not None and r.response_type != 5)
    assert text(posted).startswith("Оновлення ") and text(posted).endswith(
        "опубліковано в темі War in Ukraine (ukraine): надсилаємо його в 0 підписаних чатів."
    )
    followed = await handle.wait(lambda r: bool(r.followups))  # no worker here: no fan-out yet
    assert followed.followups[0].content == "Доставка: очікуємо на розсилку…"


async def test_the_unsubscribe_choices_name_all_topics_in_the_members_language(
    bot: DiscordAdapter, sandbox: DiscordSandbox, newsroom: Newsroom
) -> None:
    ids = (newsroom.bot.application_id, newsroom.guild_id, newsroom.live_id, newsroom.owner_id)
    for locale, name in (("uk", "усі теми"), ("en-US", "all topics")):
        handle = sandbox.control.autocomplete(*ids, "unsubscribe", {"topic": ""}, "topic",
                                              locale=locale)  # fmt: skip
        assert (await handle.response()).choices == [{"name": name, "value": "all"}]
