"""Keeping full garbage collections off the hub thread.

CPython's cyclic garbage collector runs on whichever thread happens to allocate when a generation
fills up, holding the GIL throughout. A full (generation 2) collection walks every tracked object in
the interpreter: with the web stack imported (FastAPI, pydantic, uvicorn: ~50,000 objects) that is
~20 ms, measured with 5,000 simulated users at ~57 ms, landing in a hook or blocking every hook
entry meanwhile (bench/api_bench.py). Those objects live as long as the process, so scanning them
again and again finds nothing.

``freeze_long_lived`` collects once and then moves everything alive into the permanent generation
(``gc.freeze``), so later full collections walk only what was created since. It runs once per
interpreter, on the hub thread, when the API registers (the load is already the slow moment: the
imports took longer). Process-wide in single-interpreter mode, like the switch interval: other
scripts' objects alive then are frozen too. Frozen objects are still freed by reference counting;
only a cycle among them that becomes garbage later stays in memory: after a `!pyreload`, the first
API instance's FastAPI app (a web of cycles, a few MB) is never reclaimed. Once per process, not per
reload: later instances are not frozen.
"""

from __future__ import annotations

import gc
import time

_frozen = False


def freeze_long_lived() -> tuple[int, float]:
    """Collect, then freeze what is alive; (objects frozen, seconds taken), (0, 0.0) after the first
    call in this interpreter."""
    global _frozen
    if _frozen:
        return 0, 0.0
    _frozen = True
    began = time.perf_counter()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count(), time.perf_counter() - began
