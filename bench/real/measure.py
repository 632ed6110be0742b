"""From the sandbox's request log to numbers: fill, 429s, rates over time, percentiles."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from .world import Sent

STEADY = (0.1, 0.9)  # the steady part: between the 10th and the 90th percentile send


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile by the nearest rank (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def steady_rate(times: Sequence[float]) -> float:
    """Sends per second between the STEADY percentiles (the start's burst and the tail out)."""
    if len(times) < 10:
        return math.nan
    ordered = sorted(times)
    lo, hi = (round(q * (len(ordered) - 1)) for q in STEADY)
    span = ordered[hi] - ordered[lo]
    return (hi - lo) / span if span > 0 else math.nan


def per_second(times: Sequence[float], start: float) -> list[int]:
    """How many sends fell in each whole second after `start`."""
    counts: list[int] = []
    for t in times:
        i = max(0, int(t - start))
        counts.extend([0] * (i + 1 - len(counts)))
        counts[i] += 1
    return counts


@dataclass
class Run:
    """One workload through one path: what the sandbox saw and what it cost."""

    workload: str
    path: str  # "relay" or "plain loop"
    workers: int
    expected: int  # messages the run should deliver
    budget: float  # the platform's allowance, per second
    start: float  # when the update was accepted (the loop started), on the monotonic clock
    sent: list[Sent] = field(default_factory=list)
    worker_cpu: float = 0.0  # seconds, over the run (the plain loop: its own process)
    valkey_cpu: float = 0.0
    sandbox_cpu: float = 0.0  # `relay sandbox`, the platforms' side of every send
    commands: Counter[str] = field(default_factory=Counter)  # Redis commands over the run

    @property
    def ok(self) -> list[float]:
        return sorted(s.at for s in self.sent if s.status == 200)

    @property
    def delivered(self) -> int:
        return len({(s.chat, s.text) for s in self.sent if s.status == 200})

    @property
    def refused(self) -> int:
        return sum(1 for s in self.sent if s.status == 429)

    @property
    def seconds(self) -> float:
        ok = self.ok
        return ok[-1] - self.start if ok else math.nan

    @property
    def fill(self) -> float:
        return steady_rate(self.ok) / self.budget

    def per_message(self, count: int) -> float:
        return count / self.delivered if self.delivered else math.nan

    def per_thousand(self, cpu: float) -> float:
        return cpu / self.delivered * 1000 if self.delivered else math.nan

    def cpu(self) -> dict[str, float]:
        """The CPU columns: each process per 1,000 delivered, and all three per message (ms),
        to hold against the machine's cores (2 cores: 2,000 CPU ms per second)."""
        parts = (self.worker_cpu, self.valkey_cpu, self.sandbox_cpu)
        return {
            "worker CPU s/1k": self.per_thousand(self.worker_cpu),
            "Valkey CPU s/1k": self.per_thousand(self.valkey_cpu),
            "sandbox CPU s/1k": self.per_thousand(self.sandbox_cpu),
            "CPU ms/msg (all)": self.per_thousand(sum(parts)),  # s per 1,000 = ms per one
        }

    def row(self) -> dict[str, object]:
        ok = self.ok
        return {
            "workload": self.workload, "path": self.path, "workers": self.workers,
            "messages": self.expected, "delivered": self.delivered, "429s": self.refused,
            "seconds": self.seconds, "steady/s": steady_rate(ok), "budget/s": self.budget,
            "fill": self.fill, **self.cpu(),
            "Redis cmds/msg": self.per_message(self.commands.total()),
        }  # fmt: skip

    def series(self) -> list[int]:
        return per_second(self.ok, self.start)


def command_mix(runs: Sequence[Run], top: int = 15) -> list[dict[str, object]]:
    """Redis commands per delivered message by command, a column per run that used Redis: the
    `top` commands (by their most in any run), the rest as "other", and the total."""
    costed = [r for r in runs if r.commands and r.delivered]
    most: Counter[str] = Counter()
    for r in costed:
        for name, n in r.commands.items():
            most[name] = max(most[name], n / r.delivered)
    shown = [name for name, _ in most.most_common(top)]
    rows: list[dict[str, object]] = []
    for name in [*shown, "other", "total"] if costed else []:
        row: dict[str, object] = {"command": name}
        for r in costed:
            if name == "total":
                n = r.commands.total()
            elif name == "other":
                n = sum(v for k, v in r.commands.items() if k not in shown)
            else:
                n = r.commands[name]
            row[f"{r.workload} ×{r.workers}"] = r.per_message(n)
        rows.append(row)
    return rows
