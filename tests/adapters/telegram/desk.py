"""A running relay bot on the sandbox: the adapter listening, the core's commands, a pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from relay_sandbox.telegram.records import Bot, User
from relay_sandbox.telegram.render import DisplayedMessage
from relay_sandbox.telegram.server import TelegramSandbox

from relay.adapters.telegram import TelegramAdapter
from relay.commands import Commands
from relay.model import Destination
from tests.adapters.telegram.conftest import wait_for
from tests.helpers import Pipeline


@dataclass
class Desk:
    """What a command test drives: users write, the bot answers through the real PTB."""

    tg: TelegramSandbox
    account: Bot
    adapter: TelegramAdapter
    pipeline: Pipeline
    commands: Commands

    async def say(
        self,
        user: User,
        text: str | None,
        *,
        chat: int | None = None,
        thread: int | None = None,
        reply_to: int | None = None,
        photo: bytes | None = None,
        answers: int = 1,
    ) -> list[DisplayedMessage]:
        """`user` writes (to the bot, or in `chat`); the bot's next `answers` messages there."""
        control = self.tg.control
        caption = text if photo is not None else None
        sent = control.send_message(
            user.id, None if photo is not None else text, chat_id=chat,
            bot=self.account if chat is None else None, thread_id=thread, reply_to=reply_to,
            photo=photo, caption=caption,
        )  # fmt: skip
        chat_id = user.id if chat is None else chat
        channel = control.world.chat(chat_id).type == "channel"

        def new(shown: list[DisplayedMessage]) -> list[DisplayedMessage]:
            return [m for m in shown if m.message_id > sent.message_id and not m.service]

        def done(shown: list[DisplayedMessage]) -> bool:
            deleted = all(m.message_id != sent.message_id for m in shown)
            return len(new(shown)) >= answers and (deleted or not channel)

        bot = self.account if chat is None else None
        return new(await wait_for(self.tg, chat_id, done, bot=bot))[:answers]

    async def ask(self, user: User, text: str, **kwargs: object) -> str:
        """The text of the bot's one answer."""
        return (await self.say(user, text, **kwargs))[0].content  # type: ignore[arg-type]

    async def topics(self, chat: int | str, thread: int | None = None) -> list[str]:
        dest = Destination("telegram", str(chat), None if thread is None else str(thread))
        return await self.pipeline.subs.topics(dest)
