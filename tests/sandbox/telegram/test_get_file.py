"""getFile and the file server, through the real python-telegram-bot: a bot downloads a photo a
user sent it (Bot API: getFile answers a `file_path`, the bytes are at
`<file server>/file/bot<token>/<file_path>`); an unknown file id is a 400."""

from __future__ import annotations

import pytest
from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.server import TelegramSandbox
from telegram import Bot as PtbBot
from telegram.error import BadRequest

PHOTO = b"\xff\xd8\xff\xe0 a photo " * 300


async def test_a_bot_downloads_the_photo_a_user_sent_it(
    tg: TelegramSandbox, account: Bot, reader: User, bot: PtbBot
) -> None:
    sent = tg.control.send_message(reader.id, bot=account, photo=PHOTO, caption="look")
    assert sent.photo is not None
    found = await bot.get_file(sent.photo)
    assert found.file_size == len(PHOTO)
    assert found.file_path is not None and found.file_path.startswith(tg.base_file_url)
    assert bytes(await found.download_as_bytearray()) == PHOTO
    assert [r.method for r in tg.control.requests("getFile")] == ["getFile"]


async def test_an_unknown_file_id_is_refused(bot: PtbBot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("AgACAgSandbox999999unknown")
