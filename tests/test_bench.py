"""The benchmark programs still run (tiny sizes; their numbers are never asserted)."""

from __future__ import annotations

import subprocess
import sys

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
