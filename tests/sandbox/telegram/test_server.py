"""The sandbox as a server: its URLs, mounting on another aiohttp app, and clean shutdown."""

from __future__ import annotations

import asyncio

from aiohttp import web
from relay_sandbox.telegram.limits import TelegramLimits
from relay_sandbox.telegram.server import TelegramSandbox, ptb_application_builder, ptb_bot


async def test_urls_follow_ptb_conventions(tg: TelegramSandbox) -> None:
    assert tg.url == f"http://127.0.0.1:{tg.port}" and tg.port > 0
    assert tg.base_url == f"{tg.url}/bot"
    app = ptb_application_builder(tg, "1:abc").build()
    assert app.bot.base_url == f"{tg.url}/bot1:abc"
    assert app.bot.base_file_url == f"{tg.url}/file/bot1:abc"


async def test_mounted_on_a_combined_app() -> None:
    sandbox = TelegramSandbox(limits=TelegramLimits.off())
    combined = web.Application()

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    combined.router.add_get("/healthz", health)
    sandbox.add_routes(combined)
    runner = web.AppRunner(combined)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sandbox.host, sandbox.port = "127.0.0.1", port  # served by the combined app
    try:
        account = sandbox.control.create_bot("mounted_bot")
        async with ptb_bot(sandbox, account.token) as bot:
            assert (await bot.get_me()).username == "mounted_bot"
            poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
            async with asyncio.timeout(10):
                while not sandbox.engine.queue(account.id).polling:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            await runner.cleanup()  # shutting the combined app down releases the long poll
            assert await asyncio.wait_for(poll, 10) == ()
    finally:
        await runner.cleanup()
