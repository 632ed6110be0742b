"""`--profile`: py-spy samples each sending process; where its CPU goes, by component.

For the measured part of a run (from the post to the last delivery) two `py-spy record
--rate 200 --nonblocking` per process (about 3% of a core each): one writes the raw folded
stacks (`--format raw --full-filenames`), one the SVG flamegraph (`--format flamegraph`), both
into --results as `profile-<workload>-<path>-x<workers>-w<i>.raw|.svg`. py-spy drops idle
samples (a thread asleep in epoll). `--nonblocking` never pauses the process, so some stacks
are torn (read while they changed): few, and counted like the rest.

py-spy samples by the clock: a thread that is runnable but waiting for a core (the 2 cores
shared with Valkey, the sandbox and other workers) is sampled where it waits, most often
right after a socket write woke the process on the other end. Each table's heading gives the
samples (as seconds) against the processes' CPU seconds: near 100% when they had a core to
themselves, far lower when the machine was oversubscribed.

A sample goes to the component of its innermost frame (leaf attribution), with the standard
library's helpers (json, socket, ssl, enum, re, …) charged to their nearest caller that has a
component: asyncio and selectors are a component of their own (the event loop), and so is
logging. "httpx" is PTB's default transport (httpx, httpcore, anyio, h11); "aiohttp (rest)"
holds aiohttp's server side and parsers and its helper packages (yarl, multidict, …).
"inclusive" is the share of samples with that component anywhere on the stack (the event
loop's is nearly 100%: every task runs under it).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .procs import cpu_seconds

RATE = 200  # samples per second
ATTACH = 30.0  # a guard: py-spy attaches within milliseconds
ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")

COMPONENTS = (
    "redis-py", "python-telegram-bot", "aiohttp client", "aiohttp (rest)", "httpx",
    "discord.py", "asyncio event loop", "relay dispatcher", "relay sender", "relay (other)",
    "logging", "other",
)  # fmt: skip
PACKAGES = {
    "redis": "redis-py", "telegram": "python-telegram-bot", "discord": "discord.py",
    **dict.fromkeys(("httpx", "httpcore", "anyio", "h11", "sniffio"), "httpx"),
    **dict.fromkeys(("yarl", "multidict", "propcache", "frozenlist", "aiosignal",
                     "aiohappyeyeballs"), "aiohttp (rest)"),
}  # fmt: skip
DISPATCHER = {"dispatcher.py"}
SENDER = {"sender.py", "sync.py", "budgets.py", "coalesce.py"}
AIOHTTP_CLIENT = re.compile(r"^(client.*|connector|tracing)\.py$")


def py_spy() -> str | None:
    """The py-spy beside this Python (the venv's `bench` extra), else on PATH."""
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def component(func: str, file: str) -> str | None:
    """The component of one frame; None for a standard-library helper (charged to its caller)."""
    if file.startswith("<frozen"):
        return None  # runpy, importlib: the standard library's
    path = Path(file)
    parts = path.parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        top = rest[0] if rest else ""
        if top == "aiohttp":
            return "aiohttp client" if AIOHTTP_CLIENT.match(path.name) else "aiohttp (rest)"
        return PACKAGES.get(top, "other")
    if path.is_relative_to(ROOT / "relay"):
        name = path.name
        if name in DISPATCHER or (name == "queues.py" and func.endswith(".enqueue")):
            return "relay dispatcher"
        if name in SENDER or name == "queues.py":
            return "relay sender"
        return "relay (other)"
    if path.is_relative_to(STDLIB):
        top = path.relative_to(STDLIB).parts[0]
        if top in ("asyncio", "selectors.py"):
            return "asyncio event loop"
        return "logging" if top == "logging" else None
    return "other"


@dataclass
class Profile:
    """The samples of one run's processes: folded stacks (root first) and their counts."""

    label: str
    stacks: Counter[str] = field(default_factory=Counter)
    cpu: float = 0.0  # CPU seconds of the sampled processes over the sampling
    files: list[Path] = field(default_factory=list)

    def read(self, raw: Path) -> None:
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                self.stacks[stack] += int(count)

    @property
    def samples(self) -> int:
        return sum(self.stacks.values())

    def summary(self) -> str:
        """Samples against CPU: py-spy counts a thread that runs or waits for a core."""
        seen = self.samples / RATE
        on = f"{self.cpu / seen:.0%}" if seen else "–"
        return (f"{self.samples:,} samples = {seen:.2f} s running or runnable; "
                f"{self.cpu:.2f} CPU s ({on} of it on a core)")  # fmt: skip

    def shares(self) -> list[dict[str, object]]:
        """One row per component: its samples by leaf, % by leaf, % inclusive."""
        leaf: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        for stack, count in self.stacks.items():
            found = [component(*frame) for frame in _frames(stack)]
            named = [c for c in found if c is not None]
            leaf[named[-1] if named else "other"] += count
            for c in set(named) or {"other"}:
                inclusive[c] += count
        total = self.samples or 1
        return [{"component": c, "samples": leaf[c], "leaf %": 100 * leaf[c] / total,
                 "inclusive %": 100 * inclusive[c] / total} for c in COMPONENTS]  # fmt: skip


def _frames(stack: str) -> Iterable[tuple[str, str]]:
    for frame in stack.split(";"):
        m = FRAME.match(frame)
        yield (m["func"], m["file"]) if m else (frame, "")


async def _attached(proc: asyncio.subprocess.Process) -> list[str]:
    """py-spy's lines until it says it is sampling, or until it has given up (they say why)."""
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(ATTACH):
        while line := (await proc.stdout.readline()).decode(errors="replace"):
            lines.append(line)
            if "Sampling process" in line:
                break
    return lines


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class Profiler:
    """Samples processes with py-spy around the measured part of each run (`--profile`)."""

    def __init__(self, results: Path, exe: str) -> None:
        self.results = results
        self.exe = exe
        self.profiles: list[Profile] = []

    @classmethod
    def make(cls, results: Path) -> Profiler | None:
        exe = py_spy()
        if exe is None:
            print("--profile: py-spy is not installed (pip install -e '.[bench]'); no profile")
            return None
        results.mkdir(parents=True, exist_ok=True)
        return cls(results, exe)

    @contextlib.asynccontextmanager
    async def sampling(self, label: str, pids: Sequence[int], within: float) -> AsyncIterator[None]:
        """py-spy on each of `pids` for the body (at most `within` s); then read what it wrote."""
        profile = Profile(label)
        stem = self.results / f"profile-{_slug(label)}"
        spies: list[tuple[asyncio.subprocess.Process, Path, list[str]]] = []
        for i, pid in enumerate(pids):
            for fmt, ext in (("raw", "raw"), ("flamegraph", "svg")):
                out = Path(f"{stem}-w{i}.{ext}")
                args = ["record", "--format", fmt, "--rate", str(RATE), "--pid", str(pid),
                        "--duration", str(int(within) + 1), "--nonblocking", "--full-filenames",
                        "--hideprogress", "--output", str(out)]  # fmt: skip
                proc = await asyncio.create_subprocess_exec(
                    self.exe, *args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
                )
                # A SIGINT before py-spy has attached would end it without a word.
                spies.append((proc, out, await _attached(proc)))
        cpu0 = sum(cpu_seconds(pid) for pid in pids)
        try:
            yield
        finally:
            profile.cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
            for proc, _, _ in spies:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            for proc, out, said in spies:
                rest, _ = await proc.communicate()
                said += rest.decode(errors="replace").splitlines()
                if any("No stack counts found" in line for line in said):
                    continue  # an idle process: the raw file says so with no samples
                if proc.returncode != 0 or not out.exists():
                    why = next((line.strip() for line in said if line.strip()), "")
                    print(f"--profile: py-spy could not sample {label}: {why or proc.returncode}")
                    continue
                profile.files.append(out)
                if out.suffix == ".raw":
                    profile.read(out)
        if profile.samples:
            self.profiles.append(profile)
