"""Fault injection: random 5xx, slow and dropped answers, and scripted failures for tests."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Literal

from relay_sandbox.telegram.errors import ApiError, bad_gateway, error_for

FaultKind = Literal["error", "drop", "delay"]


@dataclass(frozen=True)
class Fault:
    """What to do to one request: answer ``error``, drop the connection, or answer late.

    With ``after=True`` the call takes effect first (the message is sent), then the answer
    is lost or replaced: the ambiguous outcome a client must survive.
    """

    kind: FaultKind
    error: ApiError | None = None
    delay: float = 0.0
    after: bool = False


@dataclass(frozen=True)
class _Rule:
    method: str | None
    chat_id: str | None
    fault: Fault
    remaining: int
    skip: int = 0


class Faults:
    """Runtime-configurable faults for Bot API requests (never for the control API)."""

    def __init__(self, seed: int | None = 0) -> None:
        self._random = random.Random(seed)
        self._rules: list[_Rule] = []
        self.error_rate = 0.0
        self.drop_rate = 0.0
        self.delay_rate = 0.0
        self.delay = 0.0

    def set_rates(
        self,
        *,
        error_rate: float | None = None,
        drop_rate: float | None = None,
        delay: float | None = None,
        delay_rate: float | None = None,
    ) -> None:
        """Share of requests answered 502, dropped, or delayed by ``delay`` seconds."""
        if error_rate is not None:
            self.error_rate = error_rate
        if drop_rate is not None:
            self.drop_rate = drop_rate
        if delay is not None:
            self.delay = delay
            self.delay_rate = 1.0 if delay_rate is None else delay_rate
        elif delay_rate is not None:
            self.delay_rate = delay_rate

    def fail_next(
        self,
        method: str | None,
        count: int = 1,
        *,
        chat_id: int | str | None = None,
        error: ApiError | tuple[int, str] | None = None,
        drop: bool = False,
        delay: float | None = None,
        after: bool = False,
        skip: int = 0,
    ) -> None:
        """Fail the next ``count`` calls of ``method`` (any if None), for ``chat_id`` if given,
        after letting ``skip`` matching calls through (``skip=1``: fail the second one).

        ``error`` is an ApiError or ``(code, description)``; default 502 Bad Gateway.
        ``drop`` closes the connection instead; ``delay`` only slows the answer.
        """
        if drop:
            fault = Fault("drop", after=after)
        elif delay is not None and error is None:
            fault = Fault("delay", delay=delay)
        else:
            if isinstance(error, tuple):
                error = error_for(*error)
            fault = Fault("error", error or bad_gateway(), delay or 0.0, after)
        key = None if chat_id is None else str(chat_id)
        name = None if method is None else method.lower()
        self._rules.append(_Rule(name, key, fault, count, skip))

    def clear(self) -> None:
        """No faults at all."""
        self._rules.clear()
        self.error_rate = self.drop_rate = self.delay_rate = self.delay = 0.0

    def pick(self, method: str, chat_id: object) -> Fault | None:
        """The fault for this request, consuming a scripted rule if one matches."""
        name = method.lower()
        for i, rule in enumerate(self._rules):
            if rule.method not in (None, name):
                continue
            if rule.chat_id is not None and rule.chat_id != str(chat_id):
                continue
            if rule.skip:
                self._rules[i] = replace(rule, skip=rule.skip - 1)
                continue  # this rule lets the call through
            if rule.remaining <= 1:
                del self._rules[i]
            else:
                self._rules[i] = replace(rule, remaining=rule.remaining - 1)
            return rule.fault
        if self.drop_rate and self._random.random() < self.drop_rate:
            return Fault("drop")
        if self.error_rate and self._random.random() < self.error_rate:
            return Fault("error", bad_gateway())
        if self.delay_rate and self.delay and self._random.random() < self.delay_rate:
            return Fault("delay", delay=self.delay)
        return None
