"""`relay run` as an operator's supervisor meets it: how the process starts and stops."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relay.config import Config

from .test_cli import write_config


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.5, 1.0, 2.0])
def test_a_stop_at_any_moment_of_start_up_exits_0_without_a_traceback(
    tmp_path: Path, config: Config, delay: float
) -> None:
    # A supervisor (compose, systemd, a test) may stop a worker it has just started. The signal
    # is sent `delay` seconds after main() is entered: before the interpreter gets there, any
    # process dies of SIGTERM.
    cfg = write_config(tmp_path / "r.yaml", redis={"url": config.redis.url})
    launcher = (
        "import os, signal, sys, threading\n"
        "from relay import cli\n"
        "threading.Timer(float(sys.argv[1]), os.kill, (os.getpid(), signal.SIGTERM)).start()\n"
        "sys.exit(cli.main(sys.argv[2:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", launcher, str(delay), "--config", str(cfg), "run"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
