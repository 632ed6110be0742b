"""Readers' languages on Telegram, through the real PTB Application and the sandbox: answers in
the sender's `language_code`, the menus per language, a topic's labels in its language."""

from __future__ import annotations

import asyncio
import dataclasses
import re

from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox
from telegram import BotCommandScopeChat

from relay.adapters.telegram import TelegramAdapter
from relay.config import TopicConfig
from relay.model import Destination, Image, Update
from tests.adapters.telegram.desk import Desk
from tests.adapters.telegram.test_commands_editors import confirmation_says


def speaker(tg: TelegramSandbox, account: Bot, name: str, language: str | None) -> User:
    """A reader whose app is in `language`, who has started the bot."""
    user = tg.control.create_user(name, language_code=language)
    tg.control.send_message(user.id, "hi", bot=account)
    return user


async def test_a_reader_is_answered_in_the_language_of_their_app(
    desk: Desk, tg: TelegramSandbox, account: Bot
) -> None:
    ukrainian = speaker(tg, account, "Оксана", "uk")
    assert await desk.ask(ukrainian, "/subscribe ukraine") == (
        "Підписано на War in Ukraine (ukraine)."
    )
    assert await desk.ask(ukrainian, "/subscribe ukrane") == (
        "Невідома тема 'ukrane'. Може, ви мали на увазі ukraine? Див. /topics."
    )
    assert (await desk.ask(ukrainian, "/help")).startswith("Цей бот передає в цей чат")
    assert await desk.ask(ukrainian, "/post ukraine Сирени") == (
        "Команда /post доступна лише редакторам."
    )
    regional = speaker(tg, account, "Петро", "uk-UA")  # a region's tag, if a client sends one
    assert await desk.ask(regional, "/unsubscribe all") == "Цей чат не був на це підписаний."
    english = speaker(tg, account, "Ann", "en")
    assert await desk.ask(english, "/subscribe ukraine") == (
        "Subscribed to War in Ukraine (ukraine)."
    )
    for language in ("fr", None):  # no catalogue, or no language_code at all: English
        other = speaker(tg, account, f"Reader {language}", language)
        assert await desk.ask(other, "/subscribe climate") == (
            "Subscribed to Climate summit (climate)."
        )


async def test_a_ukrainian_editor_posts_and_edits_by_replying_to_the_confirmation(
    desk: Desk, tg: TelegramSandbox, account: Bot, editor: User, reader: User
) -> None:
    world = tg.control.world  # the editor switches their app to Ukrainian
    world.users[editor.id] = dataclasses.replace(editor, language_code="uk")
    await desk.pipeline.subs.subscribe(Destination("telegram", str(reader.id)), ["ukraine"])
    answer = (await desk.say(editor, "/post ukraine Сирени в Києві\nУкриття."))[0]
    match = re.fullmatch(r"Оновлення (\S+) опубліковано в темі War in Ukraine \(ukraine\): "
                         r"надсилаємо його в 1 підписаний чат\.", answer.content)  # fmt: skip
    assert match is not None, answer.content
    await desk.pipeline.drain()  # the progress, edited into the confirmation, is Ukrainian too
    await confirmation_says(desk, editor, answer.message_id,
                            "доставлено 1 / 1 · не вдалося 0 (завершено)")  # fmt: skip
    # the id is read back from the Ukrainian confirmation
    again = await desk.ask(editor, "/edit Сирени в усьому Києві", reply_to=answer.message_id)
    assert again == (
        f"Оновлення {match.group(1)} відредаговано (редакція 2); усі копії виправляються."
    )


async def test_the_menus_are_registered_in_english_and_in_ukrainian(
    desk: Desk, tg: TelegramSandbox, editor: User
) -> None:
    bot = desk.adapter.bot
    english = {c.command: c.description for c in await bot.get_my_commands()}
    ukrainian = {c.command: c.description for c in await bot.get_my_commands(language_code="uk")}
    assert list(ukrainian) == list(english)
    assert english["subscribe"] == "Receive a topic's live updates here"
    assert ukrainian["subscribe"] == "Отримувати тут оновлення теми"
    mine = await bot.get_my_commands(scope=BotCommandScopeChat(editor.id), language_code="uk")
    assert {c.command: c.description for c in mine}["post"] == "Редакторам: опублікувати оновлення"
    calls = [r for r in tg.control.requests("setMyCommands") if r.params.get("language_code")]
    assert {r.params["language_code"] for r in calls} == {"uk"}


async def test_a_ukrainian_topics_updates_carry_ukrainian_labels(
    tg: TelegramSandbox, account: Bot, reader: User, adapter: TelegramAdapter
) -> None:
    topic = TopicConfig("ukraine", "Війна", hashtag="#Україна", language="uk")
    update = Update(id="u1", topic="ukraine", headline="Сирени в Києві", body="Укриття.",
                    breaking=True, author="Олена", link="https://news.example/a")  # fmt: skip
    await adapter.send(Destination("telegram", str(reader.id)), update, topic)
    shown = tg.control.transcript(reader.id, bot=account)[-1]
    assert shown.text == ("🔴 ТЕРМІНОВО\nСирени в Києві\nАвтор: Олена\n\nУкриття.\n\n"
                          "Читати далі\n\n#Україна")  # fmt: skip
    assert '<a href="https://news.example/a">Читати далі</a>' in shown.html
    photo = Update(id="u2", topic="ukraine", headline="Наслідки",
                   image=Image("https://news.example/p.jpg", credit="Reuters"))  # fmt: skip
    await adapter.send(Destination("telegram", str(reader.id)), photo, topic)
    shown = tg.control.transcript(reader.id, bot=account)[-1]
    assert shown.caption is not None and "Фото: Reuters" in shown.caption


async def test_the_settings_menu_and_its_answers_are_in_the_readers_language(
    desk: Desk, tg: TelegramSandbox, account: Bot
) -> None:
    ukrainian = speaker(tg, account, "Оксана", "uk")
    await desk.ask(ukrainian, "/subscribe ukraine")
    [menu] = await desk.say(ukrainian, "/settings")
    assert menu.content.startswith("Налаштування цього чату за темами."), menu.content
    assert menu.reply_markup is not None
    buttons = [b for row in menu.reply_markup["inline_keyboard"] for b in row]
    assert buttons[0]["text"].startswith("Звичайні оновлення: "), buttons
    query = tg.control.press_button(
        ukrainian.id, ukrainian.id, menu.message_id, buttons[0]["callback_data"], bot=account
    )
    async with asyncio.timeout(10):
        while tg.control.callback_answer(query) is None:  # noqa: ASYNC110 - the sandbox signals nothing
            await asyncio.sleep(0.02)
    answer = tg.control.callback_answer(query)
    assert answer is not None and "тепер" in answer.get("text", ""), answer
    assert (
        await desk.ask(ukrainian, "/recent")
    ) == "Лише редактори редакції можуть користуватися /recent."


async def test_a_ukrainian_editors_refusal_names_the_problem_in_ukrainian(
    desk: Desk, tg: TelegramSandbox, editor: User
) -> None:
    world = tg.control.world  # the editor's app is in Ukrainian
    world.users[editor.id] = dataclasses.replace(editor, language_code="uk")
    too_long = "Сирени " * 40  # 280 characters: a headline takes 256
    assert await desk.ask(editor, f"/post ukraine {too_long.strip()}") == (
        "Нічого не змінено: headline: має містити не більше 256 символів, отримано 279."
    )
    assert await desk.ask(editor, "/post ukraine Сирени\nLink: ftp://news.example/a") == (
        "Нічого не змінено: link: має бути абсолютною адресою http(s), отримано "
        "'ftp://news.example/a'."
    )
    assert await desk.ask(editor, "/edit nope Сирени") == "Оновлення з id nope немає."
