"""One owner per Redis structure: only the owner module names its keys or sends Redis commands.

Read from the source (an AST scan of `relay/`), three rules:
1. a key builder of `relay.keys.Keys` (`keys.update(…)`, `self.keys.ready`) is used only in the
   module that owns it (below), and `keys.prefix` nowhere: a module that reads the prefix is
   about to build a key by hand;
2. Redis commands (a method of the Redis client or a pipeline called on something named
   `client`, `pipe`, `pubsub`…, or a Lua script called with `keys=`) are sent only from owner
   modules; other modules may open a pipeline that owners fill, and send server commands
   (`info`, `ping`, `WAITAOF`);
3. no string outside `relay/keys.py` holds a hash tag (`":{"`), the mark of a key name.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from relay.keys import Keys

ROOT = Path(__file__).resolve().parents[1]

OWNERS: dict[str, frozenset[str]] = {
    "relay/stream.py": frozenset({"updates", "group", "entry_errors", "fanout_cursors"}),
    "relay/dead_letters.py": frozenset({"dead_letters"}),
    "relay/registry.py": frozenset({"update", "recent_updates"}),
    "relay/subscriptions.py": frozenset(
        {"topic_subscribers", "destination_topics", "destinations", "config_channels", "bound_bot"}
    ),
    "relay/chat_settings.py": frozenset({"chat_settings"}),
    "relay/recent.py": frozenset({"editor_recent"}),
    "relay/ledger.py": frozenset(
        {"ledger", "targets", "target_counts", "progress", "progress_counted", "progress_index"}
    ),
    "relay/queues.py": frozenset({"queue", "queue_versions", "attempts", "lease"}),
    "relay/ready.py": frozenset({"ready", "wake"}),
    "relay/budgets.py": frozenset({"budget"}),
    "relay/claims.py": frozenset({"poller", "interaction", "delivered_update"}),
    "relay/workers.py": frozenset({"worker", "workers"}),
    "relay/feeds.py": frozenset({"feed_entries", "feed_http"}),
    "relay/schedule.py": frozenset({"scheduled", "scheduled_updates", "firing"}),
    "relay/desk/store.py": frozenset({"desk_session", "desk_failures", "desk_recent"}),
    "relay/media.py": frozenset({"media", "media_index", "media_sizes"}),
}
OWNER_OF = {member: module for module, members in OWNERS.items() for member in members}

RECEIVERS = {"client", "pipe", "pipeline", "pubsub", "redis", "conn", "connection"}
# Calls on a client that send no command on a key: opening and running a pipeline or a
# subscription, registering or loading a script, server-wide commands.
NOT_ON_KEYS = {
    "pipeline", "pubsub", "register_script", "execute", "multi", "reset", "aclose", "close",
    "info", "ping", "execute_command", "script_load",
}  # fmt: skip
COMMANDS = (
    {n for n in dir(aioredis.Redis) if not n.startswith("_")}
    | {n for n in dir(Pipeline) if not n.startswith("_")}
    | {"subscribe", "psubscribe", "ssubscribe"}
) - NOT_ON_KEYS


def key_members() -> set[str]:
    fields = {f.name for f in dataclasses.fields(Keys)}
    return {n for n in vars(Keys) if not n.startswith("_") and n not in fields}


def _terminal(node: ast.expr) -> str | None:
    """`self.commands.ingest.client` → `client`; `pipe` → `pipe`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def violations(module: str, source: str) -> Iterator[str]:
    """Every breach of the three rules in one module (`module`: its path from the repo root)."""
    if module in ("relay/keys.py", "relay/scripts.py"):  # names keys; runs owners' scripts
        return
    owner = module in OWNERS
    for node in ast.walk(ast.parse(source)):
        where = f"{module}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and _terminal(node.value) in ("keys", "KEYS"):
            if node.attr == "prefix":
                yield f"{where}: reads keys.prefix (a key built by hand?)"
            elif node.attr in OWNER_OF and OWNER_OF[node.attr] != module:
                yield f"{where}: keys.{node.attr} belongs to {OWNER_OF[node.attr]}"
        if isinstance(node, ast.Call) and not owner:
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr in COMMANDS
                and _terminal(func.value) in RECEIVERS
            ):
                yield f"{where}: sends {func.attr.upper()} (only key owners send commands)"
            if any(k.arg == "keys" for k in node.keywords):
                yield f"{where}: runs a Lua script on keys (only key owners do)"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ":{" in node.value:
            yield f"{where}: a key name written outside relay/keys.py: {node.value!r}"


def relay_modules() -> list[Path]:
    return sorted((ROOT / "relay").rglob("*.py"))


def test_every_key_has_exactly_one_owner() -> None:
    assert key_members() == set(OWNER_OF), "a key without an owner, or an owner of no key"
    for module in OWNERS:
        assert (ROOT / module).is_file(), module


def test_only_owners_touch_their_keys() -> None:
    found = [
        v
        for path in relay_modules()
        for v in violations(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
    ]
    assert found == []


# What the tree did before the owners existed (issue 10): each must be caught.
# fmt: off
BEFORE = [
    # an adapter reaching Redis through commands, with a hand-built key
    ("relay/adapters/discord/commands.py", """
async def interaction_check(self, interaction):
    key = f"{self.commands.ingest.keys.prefix}:discord:interaction:{interaction.id}"
    return bool(await self.commands.ingest.client.set(key, 1, nx=True, ex=CLAIM_SECONDS))
"""),
    ("relay/adapters/telegram/adapter.py", """
key = f"{commands.ingest.keys.prefix}:telegram:{self.bot_id}:poller"
"""),
    ("relay/adapters/telegram/lease.py", """
async def hold(self):
    return await self.client.set(self.key, self.owner, nx=True, px=self.ttl_ms)
"""),
    ("relay/adapters/telegram/lease.py", """
async def release(self):
    await self._release(keys=[self.key], args=[self.owner])
"""),
    # the registry read outside its owner, the stream written outside its owner
    ("relay/ingest.py", """
raw = await pipe.hget(self.keys.update(update_id), "json")
"""),
    ("relay/ingest.py", """
pipe.xadd(self.keys.updates, {"update": payload}, maxlen=self.maxlen, approximate=True)
"""),
    ("relay/admin.py", """
await client.xdel(keys.dead_letters, letter.id)
"""),
    ("relay/metrics.py", """
pipe.zcard(keys.ready)
"""),
    # targets written from a third module; attempts outside the queues
    ("relay/sync.py", """
pipe.srem(self.keys.targets(update_id), str(old))
"""),
    ("relay/sync.py", """
attempts = int(await self.client.hincrby(self.keys.attempts(str(dest)), update.id, 1))
"""),
    ("relay/sender.py", """
await pubsub.subscribe(self.keys.wake)
"""),
    # a key spelled out by hand, even inside its owner
    ("relay/budgets.py", """
def redis_key(prefix, budget_key):
    platform, bot, *rest = budget_key.split(":")
    return f"{prefix}:{{b:{platform}:{bot}}}:{':'.join(rest) or 'global'}"
"""),
]
# fmt: on


@pytest.mark.parametrize(("module", "source"), BEFORE)
def test_the_check_catches_what_the_tree_did_before(module: str, source: str) -> None:
    assert list(violations(module, source)) != []


def test_owners_may_share_a_pipeline_that_another_module_opens() -> None:
    source = """
async with self.client.pipeline(transaction=True) as pipe:
    self.stream.ack_in(pipe, entry.id)
    self.queues.ready.wake_in(pipe)
    await pipe.execute()
await self.client.execute_command("WAITAOF", 1, 0, 5000)
"""
    assert list(violations("relay/dispatcher.py", source)) == []
