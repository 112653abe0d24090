"""Moving long-lived objects out of the garbage collector's way (bundle/heap.py).

Run in a fresh interpreter each: freezing is once per interpreter and process-wide."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc, importlib, time
from vhctl_hub.heap import freeze_long_lived
for name in ("uvicorn.server", "vhctl_hub.api.app"):   # what the API imports at registration
    importlib.import_module(name)
gc.collect()
began = time.perf_counter(); gc.collect(); before = time.perf_counter() - began
frozen, took = freeze_long_lived()
began = time.perf_counter(); gc.collect(); after = time.perf_counter() - began
print(frozen, gc.get_freeze_count(), freeze_long_lived()[0], before > 4 * after)
"""


def test_freeze_once_per_interpreter_and_full_collections_get_cheaper():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=True)
    frozen, count, again, cheaper = out.stdout.split()
    assert int(frozen) > 10_000 and int(count) == int(frozen)
    assert again == "0" and cheaper == "True"
