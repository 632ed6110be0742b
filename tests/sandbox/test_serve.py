"""`relay sandbox` keeps the garbage collector's pauses short (run in a child: it freezes)."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import gc, json, sys
from relay_sandbox.serve import short_collector_pauses
if sys.argv[1] == "on":
    short_collector_pauses()
    short_collector_pauses()  # twice: still one callback
kept = [[i] for i in range(50_000)]  # long-lived records, as the request log keeps
gc.collect(1)
print(json.dumps({"callbacks": len(gc.callbacks), "frozen": gc.get_freeze_count()}))
"""


def _child(mode: str) -> dict[str, int]:
    run = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    seen: dict[str, int] = json.loads(run.stdout)
    return seen


def test_long_lived_records_are_frozen_out_of_the_collectors_way() -> None:
    on, off = _child("on"), _child("off")
    assert on["callbacks"] == 1
    assert on["frozen"] >= 50_000  # the records, scanned by no later full collection
    assert off == {"callbacks": 0, "frozen": 0}
