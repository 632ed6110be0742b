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
            "--discord", "12", "--latency", "3", "--capacity", "40", "--console", "40",
            "--bots-chats", "40", "--bots", "4"]  # fmt: skip


def assert_cpu_columns(row: dict[str, float]) -> float:
    """The sandbox's CPU, and all three processes' per message (ms = s per 1,000). Returns the
    sandbox's: a run of 6 sends may take less than one clock tick (10 ms) of it."""
    parts = [row[k] for k in ("worker CPU s/1k", "Valkey CPU s/1k", "sandbox CPU s/1k")]
    assert parts[2] >= 0, row
    assert row["CPU ms/msg (all)"] == pytest.approx(sum(parts)), row
    assert row["CPU ms/msg (all)"] > 0, row
    return parts[2]


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
    assert sum(assert_cpu_columns(row) for row in paced.values()) > 0
    relay_rows = [r for k, r in paced.items() if k[1] == "relay"]
    assert all(r["Redis cmds/msg"] > 0 for r in relay_rows)
    # The commands by name: a column per relay run, adding up to its Redis cmds/msg.
    assert "| command | telegram 12 private ×1 | telegram 12 private ×3 |" in out
    mix = {row["command"]: row for row in data["commands"]}
    assert list(mix)[-2:] == ["other", "total"] and any(n.startswith("eval") for n in mix)
    for row in relay_rows:
        column = f"{row['workload']} ×{row['workers']}"
        assert mix["total"][column] == pytest.approx(row["Redis cmds/msg"])
        assert sum(r[column] for name, r in mix.items() if name != "total") == pytest.approx(
            row["Redis cmds/msg"]
        )
    latency = data["latency"]
    assert (latency["updates"], latency["delivered"]) == (3, 3)
    assert latency["p50 ms"] <= latency["p95 ms"] <= latency["p99 ms"] <= latency["max ms"]
    off = "telegram 40, limits off"
    capacity = [(r["workload"], r["path"], r["workers"], r["delivered"]) for r in data["capacity"]]
    assert capacity == [(off, "relay", 1, 40), (off, "plain loop", 1, 40),
                        (off, "plain loop, AiohttpRequest", 1, 40),
                        ("console 40", "relay", 2, 40)]  # fmt: skip
    assert sum(assert_cpu_columns(row) for row in data["capacity"] if row["workload"] == off) > 0
    assert_cpu_columns(data["capacity"][-1])  # console: the sandbox's share is only its idling
    assert "| sandbox CPU s/1k | CPU ms/msg (all) |" in out
    [bots] = data["bots"]  # one update to 40 chats over 4 bots, each bot its own 10
    assert (bots["workload"], bots["delivered"], bots["sent per bot"]) == (
        "telegram 40 paid over 4 bots", 40, "10 10 10 10")  # fmt: skip
    assert bots["ideal seconds"] == pytest.approx(40 / 4000) and bots["429s"] >= 0
    for name in ("rate.png", "latency_cdf.png", "cpu.png"):
        assert (tmp_path / name).stat().st_size > 0, name


@pytest.mark.timeout(300)
def test_the_real_path_profile_says_where_each_workers_cpu_goes(tmp_path: Path) -> None:
    """`--profile` on the smallest capacity run: py-spy attaches to the `relay run` worker (as
    root here and in CI: if it cannot, this fails), writes its raw stacks and flamegraph, and
    the component table's leaf shares add up to 100%."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.real", "--only", "capacity", "--capacity", "30",
         "--console", "10", "--no-plain", "--profile", "--results", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "py-spy could not sample" not in out and "py-spy is not installed" not in out, out
    label = "telegram 30, limits off relay x1"
    raw = tmp_path / "profile-telegram-30-limits-off-relay-x1-w0.raw"
    assert raw.stat().st_size > 0
    assert (tmp_path / raw.with_suffix(".svg").name).read_text().lstrip().startswith("<?xml")
    assert f"### {label}: " in out
    assert "| component | samples | leaf % | inclusive % |" in out
    profile = json.loads((tmp_path / "real.json").read_text())["profile"][label]
    rows = {r["component"]: r for r in profile["components"]}
    assert sum(r["samples"] for r in rows.values()) == profile["samples"] > 0
    assert sum(r["leaf %"] for r in rows.values()) == pytest.approx(100, abs=1)
    assert rows["asyncio event loop"]["inclusive %"] > 0  # every sample runs under the loop
    assert rows["relay sender"]["inclusive %"] > 0


@pytest.mark.cluster
@pytest.mark.timeout(300)
def test_the_real_path_benchmark_runs_on_a_cluster(tmp_path: Path) -> None:
    """`--cluster`: the console ceiling with 1 and 2 workers on a 3-master cluster it starts."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.real", "--only", "console", "--console", "40",
         "--console-workers", "1", "2", "--cluster", "--results", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((tmp_path / "real.json").read_text())
    rows = [(r["workload"], r["workers"], r["delivered"]) for r in data["capacity"]]
    assert rows == [("console 40", 1, 40), ("console 40", 2, 40)]
    assert all(r["Valkey CPU s/1k"] > 0 for r in data["capacity"]), data["capacity"]  # masters
