"""The relay on a real Valkey Cluster (3 masters, 3 replicas; tests/cluster.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from relay_sandbox.telegram.server import TelegramSandbox

from relay.keys import Keys
from relay.model import Destination
from relay.queues import Queues

from .cluster import Cluster
from .helpers import free_port
from .test_cli import write_config
from .test_supervision import HANG, _healthy

pytestmark = pytest.mark.cluster


async def test_the_test_cluster_serves_every_slot_from_three_masters(
    valkey_cluster: Cluster,
) -> None:
    client = RedisCluster.from_url(valkey_cluster.seed)
    try:
        for i in range(30):
            await client.set(f"probe:{i}", i)
        assert [int(await client.get(f"probe:{i}")) for i in range(30)] == list(range(30))
        assert len(client.get_primaries()) == 3
        masters = valkey_cluster.masters()
        assert len(masters) == 3
        assert all(valkey_cluster.replica_of(m).alive for m in masters)
    finally:
        await client.delete(*[f"probe:{i}" for i in range(30)])
        await client.aclose()


async def _until(check: Any) -> None:
    async with asyncio.timeout(HANG):  # a guard against hanging, not a measure
        while not check():  # noqa: ASYNC110 - the state is in the sandbox
            await asyncio.sleep(0.05)


async def test_relay_run_on_the_cluster_delivers_chat_posts_to_telegram_subscribers(
    tmp_path: Path, valkey_cluster: Cluster
) -> None:
    """Two `relay run` workers (subprocesses) on the cluster, commands and deliveries through
    the Telegram sandbox, as a newsroom would run it; the hot keys are sharded."""
    valkey_cluster.flush()
    async with TelegramSandbox() as tg:
        bot = tg.control.create_bot("relay_bot", first_name="Newsroom")
        editor = tg.control.create_user("Eda", username="eda")
        readers = [tg.control.create_user(f"Reader {i}") for i in range(3)]
        env = {**os.environ, "TELEGRAM_TOKEN": bot.token}
        procs, ports = [], [free_port(), free_port()]
        try:
            for n, port in enumerate(ports):
                cfg = write_config(
                    tmp_path / f"w{n}.yaml",
                    redis={"url": valkey_cluster.seed, "cluster": True},
                    editors={"telegram_users": [editor.id]},
                    console={"enabled": False},
                    api={"enabled": True, "port": port},
                    telegram={"enabled": True, "api_url": tg.base_url},
                )
                with (tmp_path / f"w{n}.log").open("wb") as out:
                    procs.append(await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "relay.cli", "--config", str(cfg), "run",
                        "--consumer", f"c{n}", stdout=out, stderr=subprocess.STDOUT, env=env,
                    ))  # fmt: skip
                await _healthy(port, procs[-1])

            def said(user_id: int, text: str) -> bool:
                shown = tg.control.transcript(user_id, bot=bot)
                return any(text in m.content for m in shown if m.sender_id == bot.id)

            for reader in readers:
                tg.control.send_message(reader.id, "/subscribe ukraine", bot=bot)
            for reader in readers:
                await _until(lambda r=reader: said(r.id, "Subscribed"))
            tg.control.send_message(editor.id, "/post ukraine Corridor opens\nAt noon.", bot=bot)
            for reader in readers:
                await _until(lambda r=reader: said(r.id, "Corridor opens"))
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.terminate()
            codes = [await asyncio.wait_for(proc.wait(), HANG) for proc in procs]
        assert codes == [0, 0], [(tmp_path / f"w{n}.log").read_text()[-2000:] for n in range(2)]
        sent = [r for r in tg.control.requests("sendMessage") if r.status == 200]
        copies = [r for r in sent if "Corridor opens" in r.params.get("text", "")]
        assert len(copies) == len(readers)  # once each

    client = RedisCluster.from_url(valkey_cluster.seed)
    try:
        keys = Keys("relay", 16)
        assert not await client.exists("relay:destinations")  # sharded, not one key
        shards = [keys.destinations(s) for s in range(16)]
        held = [s for s in shards if await client.exists(s)]
        assert sum([await client.scard(s) for s in held]) == len(readers)
        assert {str(client.get_node_from_key(s).name) for s in shards} == {
            n.address for n in valkey_cluster.masters()
        }  # the shards live on every master
    finally:
        await client.aclose()


async def test_writes_no_replica_confirms_are_logged_and_that_node_is_not_waited_for_again(
    valkey_cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """A fan-out batch ends with WAIT 1 on each node it wrote to (relay/replication.py). With
    the replica of one of them frozen (SIGSTOP) nothing confirms: the batch is queued all the
    same, the relay says what a failover could lose, and does not wait for that node again."""
    valkey_cluster.flush()
    client = RedisCluster.from_url(valkey_cluster.seed)
    keys = Keys("relay", 16)
    dest = Destination("console", "desk")
    master = valkey_cluster.master_of(key_slot(keys.queue(str(dest)).encode()))
    replica = valkey_cluster.replica_of(master)
    assert replica.process is not None
    queues = Queues(client, keys)  # type: ignore[arg-type]
    try:
        await queues.enqueue([dest], "u0", "1-0")
        assert "no replica" not in caplog.text  # confirmed: nothing to say
        replica.process.send_signal(signal.SIGSTOP)
        try:
            assert await queues.enqueue([dest], "u1", "2-0") == 1
            assert f"no replica of {master.address} confirmed" in caplog.text
            assert queues.replication.skipping(master.address)
            assert await queues.enqueue([dest], "u2", "3-0") == 1  # not waited for
        finally:
            replica.process.send_signal(signal.SIGCONT)
        assert await queues.pending(dest) == ["u0", "u1", "u2"]
    finally:
        await client.aclose()
