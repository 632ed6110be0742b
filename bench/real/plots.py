"""The PNGs: messages per second against the budget, the latency CDF, CPU per 1,000 messages.

matplotlib is optional (`pip install -e '.[bench]'`): without it `draw` says so and returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .measure import Run


def draw(runs: Sequence[Run], latencies: Sequence[float], out: Path) -> list[Path]:
    """Draw every plot the runs allow into `out`; [] when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out.mkdir(parents=True, exist_ok=True)
    made = []
    paced = [r for r in runs if math.isfinite(r.budget) and r.delivered]
    if paced:
        fig, axes = plt.subplots(len(paced), 1, figsize=(8, 2.2 * len(paced)), squeeze=False)
        for ax, run in zip(axes[:, 0], paced, strict=True):
            series = run.series()
            ax.step(range(len(series)), series, where="post", label="delivered/s")
            ax.axhline(run.budget, color="red", linestyle="--", label=f"budget {run.budget:g}/s")
            ax.set_title(f"{run.workload}: {run.path}, {run.workers} worker(s)", fontsize=9)
            ax.set_ylabel("msg/s")
            ax.legend(fontsize=7, loc="lower right")
        axes[-1, 0].set_xlabel("seconds after the post")
        made.append(_save(fig, plt, out / "rate.png"))
    if latencies:
        ordered = sorted(v for v in latencies if math.isfinite(v))
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], marker=".")
        ax.set_xlabel("ms from the API's answer to the first send")
        ax.set_ylabel("fraction of updates")
        ax.set_title("First-delivery latency (Telegram sandbox over HTTP)")
        made.append(_save(fig, plt, out / "latency_cdf.png"))
    costed = [r for r in runs if r.delivered and r.expected]
    if costed:
        fig, ax = plt.subplots(figsize=(8, 0.5 * len(costed) + 1.5))
        labels = [f"{r.workload} · {r.path} ×{r.workers}" for r in costed]
        workers = [r.per_thousand(r.worker_cpu) for r in costed]
        valkey = [r.per_thousand(r.valkey_cpu) for r in costed]
        ax.barh(labels, workers, label="workers (or the plain loop)")
        ax.barh(labels, valkey, left=workers, label="Valkey")
        ax.set_xlabel("CPU seconds per 1,000 messages")
        ax.invert_yaxis()
        ax.legend(fontsize=7)
        made.append(_save(fig, plt, out / "cpu.png"))
    return made


def _save(fig: Any, plt: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
