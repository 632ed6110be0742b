"""`AiohttpRequest`: python-telegram-bot's HTTP transport on one aiohttp session.

PTB's default transport (httpx over httpcore) checks every pooled connection with system calls
on each request; with hundreds of sends in flight that is most of a send's CPU. This one keeps
one `aiohttp.ClientSession` whose connector holds as many keep-alive connections as the worker
sends at once, and answers PTB exactly as `HTTPXRequest` does: (status, body bytes), with
`TimedOut` for a timeout and `NetworkError` for any other transport failure.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import IO, Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from relay.arrivals import Arrivals
from relay.metrics import ARRIVAL_WAITS

PAID_PER_SECOND = 1000  # Telegram's paid broadcast (platforms.md §1.4)
# Calls Telegram counts against a bot's limits besides the send* methods: edits count too
# (undocumented), deletes, pins and reads do not.
_COUNTED = ("copyMessage", "copyMessages", "forwardMessage", "forwardMessages")


def counted(method: str, params: dict[str, str]) -> tuple[bool, int]:
    """How many messages a call counts against the bot's limits, and whether it is a paid
    broadcast: (False, 0) for a call no limit counts."""
    if method == "sendChatAction" or not (
        method.startswith(("send", "edit")) or method in _COUNTED
    ):
        return False, 0
    paid = params.get("allow_paid_broadcast") == "true"
    listed = params.get("media" if method == "sendMediaGroup" else "message_ids")
    if method in ("sendMediaGroup", "copyMessages", "forwardMessages") and listed:
        try:
            return paid, max(1, len(json.loads(listed)))
        except ValueError:
            return paid, 1
    return paid, 1


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on aiohttp: `pool_size` keep-alive connections, PTB's four timeouts.

    aiohttp has no write timeout of its own: a request's whole time is bounded by the sum of the
    four (pool wait, connect, write, read), and reading the answer by the read timeout.

    `per_second`: the bot's global limit. Each call Telegram counts goes through an `Arrivals`
    guard for it (for the paid broadcast's limit with `allow_paid_broadcast`), so this process's
    calls never arrive more than that many in any second (`relay.arrivals`); None: no guard.
    """

    def __init__(
        self,
        pool_size: int = 256,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        per_second: int | None = None,
    ) -> None:
        self.pool_size = pool_size
        held = ARRIVAL_WAITS.labels("telegram").inc
        self.arrivals = None if per_second is None else {
            False: Arrivals(per_second, held=held), True: Arrivals(PAID_PER_SECOND, held=held)
        }  # fmt: skip
        self._timeouts = (read_timeout, write_timeout, connect_timeout, pool_timeout)
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts[0]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Created here, inside the running loop, as aiohttp wants.
            connector = aiohttp.TCPConnector(limit=self.pool_size, keepalive_timeout=30.0)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read, write, connect, pool = self._timeouts
        write = write if not files else self._media_write_timeout
        timeout = self._timeout(
            _given(read_timeout, read),
            _given(write_timeout, write),
            _given(connect_timeout, connect),
            _given(pool_timeout, pool),
        )
        params = request_data.json_parameters if request_data is not None else {}  # encoded once
        body = _form(params, files) if files else (params or None)
        try:
            async with (
                self._turn(url, params),
                self._session.request(method, url, data=body, timeout=timeout) as res,
            ):
                return res.status, await res.read()
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutError too
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _turn(self, url: str, params: dict[str, str]) -> AbstractAsyncContextManager[None]:
        """The arrivals guard's turn for a call Telegram counts; nothing for any other."""
        if self.arrivals is None:
            return nullcontext()
        paid, count = counted(url.rpartition("/")[2], params)
        return self.arrivals[paid].call(count) if count else nullcontext()

    @staticmethod
    def _timeout(
        read: float | None, write: float | None, connect: float | None, pool: float | None
    ) -> aiohttp.ClientTimeout:
        parts = (read, write, connect, pool)
        total = None if None in parts else sum(p for p in parts if p is not None)
        wait = None if connect is None or pool is None else connect + pool
        return aiohttp.ClientTimeout(
            total=total, connect=wait, sock_connect=connect, sock_read=read
        )


def _form(fields: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
    """A multipart body: PTB's parameters as fields, each InputFile as a file part."""
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        data: bytes | IO[bytes] = content
        form.add_field(name, data, filename=filename or name, content_type=mimetype)
    return form
