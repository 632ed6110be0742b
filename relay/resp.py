"""Commands packed for the wire by hiredis's C packer instead of redis-py's Python one.

redis-py's asyncio connections pack every command in Python, argument by argument: a
delivery's dozen commands took about 8% of a worker's CPU. `hiredis.pack_command` writes the
same bytes (str as UTF-8, int and float by `repr`, bytes as they are) eight times faster. An
argument hiredis does not take (None, a bool) goes to redis-py's packer, which refuses it with
its usual `DataError`.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio.connection import AbstractConnection


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
