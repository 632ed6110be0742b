"""A YAML file read safely: a regular UTF-8 file of bounded size, with no aliases or deep nesting.

The config is the operator's, but a careless one (or a templating accident) must get a clear
`ConfigError` naming the file and the line, never a traceback or a hang:
- only a regular file is read (`--config /dev/zero` or a directory is refused without reading),
  and at most `MAX_BYTES` of it;
- the text must be UTF-8 (a byte order mark is allowed); a Latin-1 or UTF-16 file is named so;
- aliases (`*name`) are refused: a few lines of anchors and aliases ("billion laughs") expand
  into more values than memory holds, and a config this small never needs them;
- nesting deeper than `MAX_DEPTH` is refused before PyYAML's recursive composer overflows;
- a scalar PyYAML cannot turn into a value (an integer of 5,000 digits, the date 2001-13-45) is
  refused at its line.
"""

from __future__ import annotations

import os
import stat
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import Node

from relay.errors import ConfigError

MAX_BYTES = 1 << 20  # the example config, every key commented, is under 10 KiB
MAX_DEPTH = 32  # the config nests 4 levels deep


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases, with a depth limit, with a line for bad scalars."""

    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            raise ComposerError(None, None, "no aliases (*name): write the value out", mark)
        if self.depth >= MAX_DEPTH:
            raise ComposerError(None, None, f"nesting at most {MAX_DEPTH} levels deep", mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(
                None, None, f"a readable value ({exc})", node.start_mark
            ) from None


def read_text(file: str) -> str:
    """The text of `file` if it is a regular UTF-8 file of at most `MAX_BYTES`."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before fstat can refuse it
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(file, "(file)", f"a readable YAML file ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise ConfigError(file, "(file)", "a YAML file, not a directory")
        raise ConfigError(file, "(file)", "a regular YAML file (not a device, pipe or socket)")
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise ConfigError(file, "(file)", f"a YAML file of at most {MAX_BYTES // 1024} KiB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
        found = "this one is UTF-16" if utf16 else f"byte 0x{raw[exc.start]:02x} is not UTF-8"
        expected = f"a UTF-8 YAML file ({found}: save it as UTF-8)"
        raise ConfigError(file, f"line {line}", expected) from None


def load(file: str) -> Any:
    """The YAML data of `file` (None when it is empty); `ConfigError` naming the line if bad."""
    text = read_text(file)
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader, see above
    except yaml.YAMLError as exc:
        raise ConfigError(file, _where(exc, text), f"valid YAML ({_problem(exc)})") from None
    except RecursionError:  # a backstop: MAX_DEPTH stops the composer long before
        raise ConfigError(file, "(file)", f"YAML nested at most {MAX_DEPTH} levels") from None


def _where(exc: yaml.YAMLError, text: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"line {mark.line + 1}"
    position = getattr(exc, "position", None)  # a ReaderError: a character YAML forbids
    if isinstance(position, int):
        return f"line {text.count(chr(10), 0, position) + 1}"
    return "(file)"


def _problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        return f"a character YAML does not allow: U+{exc.character:04X}"
    return str(getattr(exc, "problem", None) or exc)
