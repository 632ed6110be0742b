"""Fault injection: random 5xx, slow answers and dropped connections, plus scripted failures."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per REST request (0..1) and per gateway dispatch; seeded for repeatability."""

    server_error: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 1.0
    drop: float = 0.0
    gateway_drop: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class ScriptedFailure:
    """Fail the next `count` requests to endpoint `endpoint` (optionally one channel), after
    letting `after` of them through (part 2 of a multi-part message, say)."""

    endpoint: str
    status: int
    code: int = 0
    message: str = ""
    retry_after: float | None = None
    channel_id: int | None = None
    lose_answer: bool = False  # serve the request (it takes effect), then drop the connection
    after: int = 0


@dataclass(frozen=True)
class Decision:
    """What to do to one request."""

    scripted: ScriptedFailure | None = None
    server_error: bool = False
    slow_seconds: float = 0.0
    drop: bool = False


class Faults:
    """Decides, request by request, which fault (if any) to inject."""

    def __init__(self) -> None:
        self.rates = FaultRates()
        self._rng = random.Random(0)
        self._scripted: list[list[ScriptedFailure | int]] = []  # [failure, count, let through]

    def set_rates(self, rates: FaultRates) -> None:
        self.rates = rates
        self._rng = random.Random(rates.seed)

    def fail_next(self, failure: ScriptedFailure, count: int = 1) -> None:
        self._scripted.append([failure, count, failure.after])

    def clear(self) -> None:
        self.rates = FaultRates()
        self._scripted.clear()

    def decide(self, endpoint: str | None, channel_id: int | None) -> Decision:
        for entry in self._scripted:
            failure, left, through = entry
            assert isinstance(failure, ScriptedFailure)
            assert isinstance(left, int) and isinstance(through, int)
            if failure.endpoint != endpoint:
                continue
            if failure.channel_id is not None and failure.channel_id != channel_id:
                continue
            if through > 0:
                entry[2] = through - 1
                return Decision()
            if left <= 1:
                self._scripted.remove(entry)
            else:
                entry[1] = left - 1
            return Decision(scripted=failure)
        r = self.rates
        if not (r.server_error or r.slow or r.drop):
            return Decision()
        return Decision(
            server_error=self._rng.random() < r.server_error,
            slow_seconds=r.slow_seconds if self._rng.random() < r.slow else 0.0,
            drop=self._rng.random() < r.drop,
        )

    def gateway_drop(self) -> bool:
        return self.rates.gateway_drop > 0 and self._rng.random() < self.rates.gateway_drop
