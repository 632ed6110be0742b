"""The embedded Valkey never outlives the relays using it: `relay run` processes, SIGKILL, /proc."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import redis

from relay.backend import EmbeddedValkey, _socket_alive, valkey_binary

from .test_cli import relay_cmd, write_config


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="lr-", dir="/tmp"))
    yield path
    for pid in valkeys(path):  # never leak a server, even when the test failed
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(path, ignore_errors=True)


def valkeys(data_dir: Path) -> list[int]:
    """The live valkey-server processes working in `data_dir`, found in /proc."""
    binary = valkey_binary().resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe, cwd = Path(os.readlink(entry / "exe")), Path(os.readlink(entry / "cwd"))
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if exe == binary and cwd == data_dir and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Run:
    """One `relay run` process on the embedded backend, printing to the console platform."""

    def __init__(self, cfg_file: Path, out: Path) -> None:
        self.out = out
        self._file: IO[str] = out.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "relay.cli", "--config", str(cfg_file), "run"],
            stdout=self._file, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    def printed(self) -> str:
        return self.out.read_text()

    def joined(self) -> bool:
        """Whether it runs on the server (it syncs the config's channels once connected)."""
        return "config channels synced" in self.printed()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(30)
        self._file.close()
        return code


@pytest.fixture
def runs() -> Iterator[Callable[[Path, Path], Run]]:
    started: list[Run] = []

    def start(cfg_file: Path, out: Path) -> Run:
        started.append(Run(cfg_file, out))
        return started[-1]

    yield start
    for run in started:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()


def embedded_config(tmp_path: Path, data_dir: Path) -> Path:
    return write_config(
        tmp_path / "r.yaml",
        redis={"data_dir": str(data_dir)},
        channels=[{"destination": "console:stdout", "topics": ["ukraine"]}],
    )


def post(cfg_file: Path, headline: str, **kw: Any) -> str:
    posted = relay_cmd("--config", str(cfg_file), "post", "--topic", "ukraine",
                       "--headline", headline, **kw)  # fmt: skip
    assert posted.returncode == 0, posted.stderr
    return posted.stdout.strip()


def test_a_sigkilled_relay_takes_its_embedded_valkey_with_it_and_keeps_the_data(
    tmp_path: Path, data_dir: Path, runs: Callable[[Path, Path], Run]
) -> None:
    cfg_file = embedded_config(tmp_path, data_dir)
    run = runs(cfg_file, tmp_path / "run.out")
    wait_for(run.joined)
    update_id = post(cfg_file, "Before the crash")
    wait_for(lambda: "Before the crash" in run.printed())
    [server] = valkeys(data_dir)
    run.stop(signal.SIGKILL)
    wait_for(lambda: not valkeys(data_dir))  # no relay left: the server goes too
    assert not _socket_alive(data_dir / "valkey.sock")
    log = (data_dir / "valkey.log").read_text()
    assert f"{server}:signal-handler" in log and "Received SIGTERM" in log  # a clean stop
    # The data survived (AOF): a later command edits the update, then stops its own server.
    edited = relay_cmd("--config", str(cfg_file), "edit", update_id, "--headline", "After")
    assert edited.returncode == 0, edited.stderr
    assert edited.stdout.strip() == f"{update_id} revision 2"
    assert valkeys(data_dir) == []


def _leftover(data_dir: Path) -> subprocess.Popen[bytes]:
    """A server as a relay of the old kind left it: its own session, nobody watching it."""
    conf = EmbeddedValkey(data_dir)._write_conf()
    server = subprocess.Popen([str(valkey_binary()), str(conf)], cwd=data_dir,
                              stdout=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    wait_for(lambda: _socket_alive(data_dir / "valkey.sock"))
    return server


def test_a_server_left_by_a_dead_relay_is_restarted_and_stopped_with_the_next_relay(
    tmp_path: Path, data_dir: Path, runs: Callable[[Path, Path], Run]
) -> None:
    leftover = _leftover(data_dir)
    marker = redis.Redis(unix_socket_path=str(data_dir / "valkey.sock"))
    marker.set("written-before", "kept")
    marker.close()
    cfg_file = embedded_config(tmp_path, data_dir)
    run = runs(cfg_file, tmp_path / "run.out")
    wait_for(run.joined)
    post(cfg_file, "On the next relay")
    wait_for(lambda: "On the next relay" in run.printed())
    check = redis.Redis(unix_socket_path=str(data_dir / "valkey.sock"))
    assert check.get("written-before") == b"kept"  # restarted cleanly: nothing lost
    check.close()
    assert run.stop() == 0
    assert valkeys(data_dir) == []  # neither the leftover nor its successor runs on
    assert leftover.wait(5) == 0


def test_relays_sharing_one_server_never_stop_it_under_each_other(
    tmp_path: Path, data_dir: Path, runs: Callable[[Path, Path], Run]
) -> None:
    cfg_file = embedded_config(tmp_path, data_dir)
    first = runs(cfg_file, tmp_path / "first.out")
    second = runs(cfg_file, tmp_path / "second.out")  # both start at once: one server
    wait_for(lambda: first.joined() and second.joined())
    [server] = valkeys(data_dir)
    post(cfg_file, "Both running")
    wait_for(lambda: "Both running" in first.printed() + second.printed())
    assert first.stop() == 0  # the relay that started the server stops normally
    assert valkeys(data_dir) == [server]
    post(cfg_file, "Second alone")
    wait_for(lambda: "Second alone" in second.printed())
    third = runs(cfg_file, tmp_path / "third.out")
    wait_for(third.joined)
    post(cfg_file, "Second and third")
    wait_for(lambda: "Second and third" in second.printed() + third.printed())
    second.stop(signal.SIGKILL)  # a user dies: the others keep the server
    post(cfg_file, "Third alone")
    wait_for(lambda: "Third alone" in third.printed())
    assert valkeys(data_dir) == [server]
    assert third.stop() == 0  # the last one out stops it
    assert valkeys(data_dir) == []


def test_the_server_goes_when_whatever_watches_it_is_sigkilled(data_dir: Path) -> None:
    server = EmbeddedValkey(data_dir)
    server.start()
    try:
        [pid] = valkeys(data_dir)
        assert server.process is not None and server.process.pid != pid
        os.kill(server.process.pid, signal.SIGKILL)
        wait_for(lambda: not valkeys(data_dir))
        assert "Received SIGTERM" in (data_dir / "valkey.log").read_text()  # AOF flushed
    finally:
        server.stop()
