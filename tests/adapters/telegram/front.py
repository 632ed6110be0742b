"""A load balancer in front of the relay's workers, as Telegram's webhook URL points at one.

Each request Telegram (the sandbox) posts goes to the next worker in turn; a `Front.drop` plan
makes the front hang up without answering, before or after the worker handled the request
(the worker died before it could answer, or its answer was lost), and `down` hangs up on
every request (no worker reachable): Telegram retries then.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import aiohttp

BEFORE, AFTER = "before", "after"


@dataclass
class Front:
    """Round robin over `workers` (base URLs such as `http://127.0.0.1:8080`)."""

    workers: list[str]
    drops: list[str] = field(default_factory=list)  # per request, in order: BEFORE or AFTER
    served: list[tuple[int, int | None]] = field(default_factory=list)  # (worker, status)
    down: bool = False  # hang up on every request, before any worker sees it
    next: int = 0  # the worker the next request goes to
    _server: asyncio.Server | None = None
    _http: aiohttp.ClientSession | None = None
    port: int = 0

    async def __aenter__(self) -> Front:
        self._http = aiohttp.ClientSession()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._http is not None
        self._server.close()
        await self._server.wait_closed()
        await self._http.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            size = int(next((v for k, v in headers.items() if k.lower() == "content-length"), 0))
            body = await reader.readexactly(size)
            while not self.workers:  # noqa: ASYNC110 - the servers are still starting
                await asyncio.sleep(0.01)
            drop = self.drops.pop(0) if self.drops else None
            worker = self.next % len(self.workers)
            self.next += 1
            if drop == BEFORE or self.down:
                self.served.append((worker, None))
                return
            keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
            assert self._http is not None
            async with self._http.request(
                method, self.workers[worker] + path, data=body, headers=keep
            ) as r:
                answer = await r.read()
                status = r.status
            self.served.append((worker, None if drop == AFTER else status))
            if drop == AFTER:
                return
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: {len(answer)}\r\n"
                "Content-Type: application/json\r\nConnection: close\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
