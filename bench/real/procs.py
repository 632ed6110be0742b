"""The processes of a benchmark: the embedded Valkey, `relay sandbox`, `relay run` workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
import yaml
from redis.asyncio.cluster import RedisCluster

API_TOKEN = "bench-api-token"
TICK = os.sysconf("SC_CLK_TCK")
REQUEST_LOG = 1_000_000  # requests the sandbox keeps: every send of a 100,000-chat run and more
STARTUP = 60.0  # a guard against hanging: a worker or the sandbox is up in a few seconds


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a live process (`/proc/<pid>/stat`); 0 once it is gone."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sandbox:
    """`relay sandbox` in its own process, on free ports; its URLs as it printed them."""

    proc: asyncio.subprocess.Process
    telegram_url: str  # the server root, e.g. http://127.0.0.1:PORT
    discord_api: str
    discord_gateway: str
    discord_url: str  # the Discord server root (its control API)

    @property
    def pid(self) -> int:
        return self.proc.pid


async def start_sandbox() -> Sandbox:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay.cli", "sandbox", "--telegram-port", "0",
        "--discord-port", "0", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "RELAY_SANDBOX_REQUEST_LOG": str(REQUEST_LOG)},
    )  # fmt: skip
    assert proc.stdout is not None
    found: dict[str, str] = {}
    patterns = {
        "telegram": re.compile(r"Telegram Bot API\s+(http://\S+?)/bot<token>"),
        "api": re.compile(r"Discord REST\s+(http://\S+)"),
        "gateway": re.compile(r"Discord gateway\s+(ws://\S+)"),
    }
    async with asyncio.timeout(STARTUP):
        while len(found) < len(patterns):
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError("relay sandbox exited before it printed its URLs")
            for name, pattern in patterns.items():
                if m := pattern.search(line):
                    found[name] = m.group(1)
    root = re.match(r"http://[^/]+", found["api"])
    assert root is not None
    return Sandbox(proc, found["telegram"], found["api"], found["gateway"], root.group(0))


@dataclass
class Workers:
    """N `relay run` processes sharing one Valkey, each with its HTTP API; posts go to the first."""

    procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    port: int = 0

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    async def post(self, http: aiohttp.ClientSession, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/updates`; the API's answer."""
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        url = f"http://127.0.0.1:{self.port}/v1/updates"
        async with http.post(url, json=body, headers=headers) as r:
            data: dict[str, Any] = await r.json()
            if r.status not in (200, 201, 202):
                raise RuntimeError(f"POST /v1/updates: {r.status} {data}")
            return data


def worker_config(
    redis: dict[str, Any], port: int, sandbox: Sandbox, **sections: Any
) -> dict[str, Any]:
    """A `relay run` config on the `redis` section: Telegram and Discord at the sandbox, unless
    `sections` say else."""
    return {
        "redis": redis,
        "topics": [{"slug": "live", "title": "Live"}],
        "console": {"enabled": False},
        "api": {"enabled": True, "port": port},
        "telegram": {"enabled": False, "api_url": f"{sandbox.telegram_url}/bot"},
        "discord": {"enabled": False, "api_url": sandbox.discord_api,
                    "gateway_url": sandbox.discord_gateway},
        **sections,
    }  # fmt: skip


async def _healthy(port: int, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(STARTUP):
        while proc.returncode is None:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"relay run exited with {proc.returncode} before it was ready")


@contextlib.asynccontextmanager
async def workers(
    n: int, config: dict[str, Any], env: dict[str, str], directory: Path
) -> AsyncIterator[Workers]:
    """Start `n` workers with `config` (each its own API port), stop them on exit."""
    out = Workers(port=int(config["api"]["port"]))
    ports = [out.port] + [free_port() for _ in range(n - 1)]
    try:
        for i, port in enumerate(ports):
            path = directory / f"w{i}.yaml"
            path.write_text(yaml.safe_dump({**config, "api": {"enabled": True, "port": port}}))
            with path.with_suffix(".log").open("wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "relay.cli", "--config", str(path), "run",
                    "--consumer", f"bench-{i}", stdout=log, stderr=subprocess.STDOUT,
                    env={**os.environ, **env, "RELAY_API_TOKEN": API_TOKEN},
                )  # fmt: skip
            out.procs.append(proc)
        for port, proc in zip(ports, out.procs, strict=True):  # every platform connected
            await _healthy(port, proc)
        yield out
    finally:
        for proc in out.procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in out.procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def commands_processed(client: aioredis.Redis) -> Counter[str]:
    """Valkey's count of commands served so far, by command (INFO commandstats; on a cluster,
    of every master). A script's own `redis.call`s count under their commands, as in
    `total_commands_processed`, besides its EVAL/EVALSHA."""
    if isinstance(client, RedisCluster):
        per_node = await client.info("commandstats", target_nodes=RedisCluster.PRIMARIES)
        infos = list(per_node.values())
    else:
        infos = [await client.info("commandstats")]
    calls: Counter[str] = Counter()
    for info in infos:
        for name, stats in info.items():
            calls[name.removeprefix("cmdstat_")] += int(stats["calls"])
    return calls
