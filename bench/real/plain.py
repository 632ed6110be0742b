"""The plain loop a newsroom would write: python-telegram-bot with its AIORateLimiter, one
`send_message` per chat, as many in flight as the connection pool holds, the limiter pacing.
`--no-limiter` (the capacity rows, the sandbox's limits off): no rate limiter at all, the floor
of PTB and the sandbox alone. `--aiohttp`: the relay's transport (`AiohttpRequest`, imported)
instead of PTB's default `HTTPXRequest`.

All 5,000 at once (one `gather`) made 240 sends in 5 minutes at 100% CPU here (thousands of
requests queued behind the pool; not profiled). So at most POOL in flight, as the pool allows.

`python -m bench.real.plain --api-url URL --token T --chats FILE [--paid] [--no-limiter]
[--aiohttp]` prints one JSON line as soon as the sends are done: the CPU seconds they took
(this process), and how many failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application

from relay.adapters.telegram.request import AiohttpRequest

MAX_RETRIES = 5  # the limiter retries a 429 after the time Telegram names
POOL = 256  # ApplicationBuilder's default connection pool


async def main(args: argparse.Namespace, chats: list[int]) -> None:
    app = Application.builder().token(args.token).base_url(args.api_url)
    if not args.no_limiter:
        rate = 1000 if args.paid else 30  # 30: the limiter's default, Telegram's free rate
        app = app.rate_limiter(AIORateLimiter(overall_max_rate=rate, max_retries=MAX_RETRIES))
    if args.aiohttp:
        app = app.request(AiohttpRequest(POOL))
    application = app.build()
    async with application:
        bot = application.bot
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()  # the benchmark says go (after reading our CPU so far)
        before = time.process_time()  # every thread's, to the nanosecond (not clock ticks)
        gate = asyncio.Semaphore(POOL)

        async def send(chat: int) -> object:
            async with gate:
                return await bot.send_message(
                    chat, args.text, parse_mode=ParseMode.HTML,
                    allow_paid_broadcast=True if args.paid else None,
                )  # fmt: skip

        results = await asyncio.gather(*(send(c) for c in chats), return_exceptions=True)
        cpu = time.process_time() - before
        failed = [r for r in results if isinstance(r, TelegramError | OSError)]
        sys.stdout.write(json.dumps({"cpu": cpu, "failed": len(failed)}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--chats", required=True, help="a file of chat ids, one a line")
    parser.add_argument("--text", default="<b>Bench</b>\n\nA live update.")
    parser.add_argument("--paid", action="store_true", help="allow_paid_broadcast, 1000/s")
    parser.add_argument("--no-limiter", action="store_true", help="no AIORateLimiter")
    parser.add_argument("--aiohttp", action="store_true", help="the relay's AiohttpRequest")
    args = parser.parse_args()
    chats = [int(c) for c in Path(args.chats).read_text().split()]
    asyncio.run(main(args, chats))
