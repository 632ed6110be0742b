"""The relay's redis-py connections: commands packed by hiredis, and a lost socket an outage.

Commands are packed for the wire by hiredis's C packer instead of redis-py's Python one.

redis-py's asyncio connections pack every command in Python, argument by argument: a
delivery's dozen commands took about 8% of a worker's CPU. `hiredis.pack_command` writes the
same bytes (str as UTF-8, int and float by `repr`, bytes as they are) eight times faster. An
argument hiredis does not take (None, a bool) goes to redis-py's packer, which refuses it with
its usual `DataError`.

A connection whose server dies while it connects (a cluster master killed, its replica not yet
promoted) has its writer dropped under the handshake it is sending, and redis-py 8.1 then
raises `AttributeError: 'NoneType' object has no attribute 'writelines'`, which stopped a
worker's heartbeat and so the worker (tests/test_failover.py). `SendsOrFails` raises it as the
`ConnectionError` it is, which every loop rides out as an outage.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError


def _pack(args: tuple[Any, ...]) -> bytes:
    first = args[0]
    # A command name of several words ("SCRIPT LOAD") goes as separate arguments.
    if (isinstance(first, str) and " " in first) or (isinstance(first, bytes) and b" " in first):
        args = (*first.split(), *args[1:])
    packed: bytes = hiredis.pack_command(args)
    return packed


class HiredisPacking(AbstractConnection):
    """Mixed into a redis-py connection class (see `packing_with_hiredis`)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        try:
            return [_pack(args)]
        except TypeError:
            return super().pack_command(*args)

    def pack_commands(self, commands: Any) -> list[bytes]:
        commands = [tuple(c) for c in commands]
        try:
            return [b"".join([_pack(c) for c in commands])]
        except TypeError:
            return super().pack_commands(commands)


def packing_with_hiredis(cls: type[AbstractConnection]) -> type[AbstractConnection]:
    """`cls` (a pool's connection class) with hiredis packing its commands."""
    if issubclass(cls, HiredisPacking):
        return cls
    return type(cls.__name__, (HiredisPacking, cls), {"__module__": __name__})


class SendsOrFails(AbstractConnection):
    """Mixed into a redis-py connection class: a send on a socket closed under it fails with
    `ConnectionError`, not `AttributeError`."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except AttributeError as exc:
            if getattr(self, "_writer", None) is not None:
                raise
            raise RedisConnectionError("the connection closed while a command was sent") from exc


def relay_connection(cls: type[AbstractConnection]) -> type[AbstractConnection]:
    """`cls` (a redis-py connection class) as the relay uses it: `SendsOrFails`, and hiredis
    packing its commands."""
    if issubclass(cls, SendsOrFails):
        return cls
    return type(cls.__name__, (SendsOrFails, packing_with_hiredis(cls)), {"__module__": __name__})
