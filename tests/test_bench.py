"""The benchmark programs still run (tiny sizes; their numbers are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.mark.parametrize(
    ("name", "args", "columns"),
    [
        ("latency", ["--updates", "3"], "| destinations | updates | median ms |"),
        ("throughput", ["--destinations", "20", "--updates", "1"], "| workers | destinations |"),
        ("budget_fill", ["--seconds", "0.3"], "| budget/s | burst | sent |"),
    ],
)
def test_benchmark_prints_its_table(name: str, args: list[str], columns: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert columns in result.stdout
    assert (ROOT / "bench" / "results" / f"{name}.json").exists()


SMALLEST = ["--private", "12", "--groups", "3", "--group-updates", "2", "--paid", "40",
            "--discord", "12", "--latency", "3", "--capacity", "40", "--console", "40"]  # fmt: skip


@pytest.mark.timeout(600)
def test_the_real_path_benchmark_delivers_every_message_and_reports_each_workload(
    tmp_path: Path,
) -> None:
    """`python -m bench.real` at its smallest: Valkey, `relay sandbox` and `relay run` workers
    as processes. Every row names its workload and path, delivered what it was asked to, and
    counts its 429s; the plots are drawn. Timings are printed, never asserted."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.real", *SMALLEST, "--results", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    data = json.loads((tmp_path / "real.json").read_text())
    paced = {(r["workload"], r["path"], r["workers"]): r for r in data["paced"]}
    assert set(paced) == {
        ("telegram 12 private", "relay", 1), ("telegram 12 private", "relay", 3),
        ("telegram 12 private", "plain loop", 1),
        ("telegram 3 groups × 2", "relay", 1), ("telegram 3 groups × 2", "plain loop", 1),
        ("telegram 40 paid", "relay", 2), ("telegram 40 paid", "plain loop", 1),
        ("discord 12 channels", "relay", 3),
    }  # fmt: skip
    for key, row in paced.items():
        assert row["delivered"] == row["messages"], key
        assert isinstance(row["429s"], int) and row["429s"] >= 0, key
        assert row["worker CPU s/1k"] is not None and row["worker CPU s/1k"] > 0, key
        assert f"| {key[0]} | {key[1]} | {key[2]} | {row['messages']:,} |" in out
    relay_rows = [r for k, r in paced.items() if k[1] == "relay"]
    assert all(r["Redis cmds/msg"] > 0 for r in relay_rows)
    latency = data["latency"]
    assert (latency["updates"], latency["delivered"]) == (3, 3)
    assert latency["p50 ms"] <= latency["p95 ms"] <= latency["p99 ms"] <= latency["max ms"]
    assert [(r["workload"], r["workers"], r["delivered"]) for r in data["capacity"]] == [
        ("telegram 40, limits off", 1, 40), ("console 40", 2, 40)]  # fmt: skip
    for name in ("rate.png", "latency_cdf.png", "cpu.png"):
        assert (tmp_path / name).stat().st_size > 0, name
