"""One round trip for what concurrent deliveries ask of Redis in the same turn of the loop.

A worker serves many destinations at once, each a few round trips (lease, read, reserve, write,
release). With hundreds of deliveries a second, every round trip costs more in its fixed part
(taking a pooled connection, one socket write and read, one event-loop wake-up, the server's own
read and write) than in its commands. `Coalesced` is a client whose single commands and
non-transactional pipelines, issued by different tasks before the loop turns, are sent to the
server as one pipeline; each caller gets exactly its own replies, errors included, in order.

Nothing changes for a caller: a command's reply is parsed as it would be alone, a pipeline
raises its first error as redis-py's does, and a lost connection fails every caller of that
round trip (who retries as it would have). Transactions (MULTI/EXEC) and blocking commands go
to the server alone, as they must.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from relay.keys import as_str
from relay.scripts import TEXTS

Stack = list[tuple[tuple[Any, ...], Mapping[str, Any]]]
# Commands that hold their connection (or change its state): never merged with others.
ALONE = frozenset({
    "BLPOP", "BRPOP", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "BRPOPLPUSH",
    "XREAD", "XREADGROUP", "WAIT", "WAITAOF", "WATCH", "UNWATCH", "MULTI", "EXEC", "DISCARD",
    "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "SELECT", "CLIENT", "AUTH", "HELLO",
})  # fmt: skip


class Batcher:
    """Collects the command stacks of one loop turn and sends them as one pipeline."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client  # a plain client on the same pool: the one that sends
        self._waiting: list[tuple[Stack, asyncio.Future[list[Any]]]] = []
        self._flushes: set[asyncio.Task[None]] = set()
        self.round_trips = 0
        self.stacks = 0
        self.reloads = 0  # round trips that found the server's script cache emptied

    def submit(self, stack: Stack) -> asyncio.Future[list[Any]]:
        """The replies of `stack`, once the round trip it joins is answered."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush)
        self._waiting.append((stack, future))
        return future

    def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _send(self, batch: list[tuple[Stack, asyncio.Future[list[Any]]]]) -> None:
        self.round_trips += 1
        self.stacks += len(batch)
        try:
            pipe = _Sending(
                self.client.connection_pool, self.client.response_callbacks, False, None
            )
            commands = [command for stack, _ in batch for command in stack]
            pipe.command_stack = commands
            replies = await pipe.execute(raise_on_error=False)
            if any(isinstance(r, NoScriptError) for r in replies):
                await self._reload(commands, replies)
        except BaseException as exc:
            for _, future in batch:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(_copy(exc))
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        at = 0
        for stack, future in batch:
            if not future.done():  # its caller may have been cancelled meanwhile
                future.set_result(replies[at : at + len(stack)])
            at += len(stack)

    async def _reload(self, commands: Stack, replies: list[Any]) -> None:
        """Load the scripts a restarted (or flushed) server lost and run their calls again.

        Each call still runs after the commands its caller queued before it; the ones queued
        after it ran first (in the relay's pipelines those touch other keys than the script).
        """
        again = [
            i
            for i, r in enumerate(replies)
            if isinstance(r, NoScriptError) and as_str(commands[i][0][1]) in TEXTS
        ]
        self.reloads += 1
        shas = {as_str(commands[i][0][1]) for i in again}
        async with self.client.pipeline(transaction=False) as pipe:
            for sha in sorted(shas):
                pipe.script_load(TEXTS[sha])
            for i in again:
                args, options = commands[i]
                pipe.execute_command(*args, **options)
            answered = await pipe.execute(raise_on_error=False)
        for i, reply in zip(again, answered[len(shas) :], strict=True):
            replies[i] = reply


def _copy(exc: BaseException) -> BaseException:
    """The same failure for each caller (one exception object raised in many tasks would
    collect all their tracebacks)."""
    try:
        return type(exc)(*exc.args)
    except Exception:
        return exc


class _Sending(Pipeline):
    """The merged pipeline, read under one timeout instead of one per reply.

    A connection's `socket_timeout` (redis-py's default: 5 s) wraps every reply read in its own
    asyncio timeout; over a pipeline of hundreds of replies, already in the buffer after the
    first, that was 7% of a worker's CPU. The whole round trip gets the same bound once.
    """

    async def _execute_pipeline(
        self, connection: Any, commands: Stack, raise_on_error: bool
    ) -> list[Any]:
        bound = connection.socket_timeout
        connection.socket_timeout = None
        try:
            async with asyncio.timeout(bound):
                replies: list[Any] = await super()._execute_pipeline(
                    connection, commands, raise_on_error
                )
                return replies
        except TimeoutError as exc:  # the connection was closed as it timed out
            raise RedisTimeoutError(f"Timeout reading from {connection}") from exc
        finally:
            connection.socket_timeout = bound


class CoalescedPipeline(Pipeline):
    """A non-transactional pipeline whose `execute` joins the loop turn's round trip."""

    batcher: Batcher
    reloads_scripts = True  # a `Script` may queue its SHA1 (see `Batcher._reload`)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        stack, self.command_stack = self.command_stack, []
        if not stack:
            return []
        replies = await self.batcher.submit(stack)
        if raise_on_error:
            self.raise_first_error(stack, replies)
        return replies


class Coalesced(aioredis.Redis):
    """A client for the sender: commands of one loop turn share one round trip."""

    def __init__(self, client: aioredis.Redis) -> None:
        super().__init__(connection_pool=client.connection_pool)
        self.batcher = Batcher(client)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        if transaction:
            return super().pipeline(transaction=True, shard_hint=shard_hint)
        pipe = CoalescedPipeline(self.connection_pool, self.response_callbacks, False, shard_hint)
        pipe.batcher = self.batcher
        return pipe

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        name = str(args[0]).split(" ", 1)[0].upper()
        if name in ALONE:
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        [reply] = await self.batcher.submit([(args, options)])
        if isinstance(reply, ResponseError):
            raise reply
        return reply
