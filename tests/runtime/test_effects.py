"""Process-wide effects (bundle/effects.py): each declared one is listed in plain words in the header
of every script whose loading causes it, and the header stays short and free of spec numbers; the
switch interval comes back; the collector freeze is once per interpreter and makes full collections
cheaper (a fresh interpreter: freezing is process-wide)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from vhctl.render import template_text
from vhctl_hub.effects import BOTH, EFFECTS, LoweredSwitchInterval

#: The header is read before `!pyload`: a screenful.
HEADER_LINES = 24


def _header(template: str) -> str:
    return ast.get_docstring(ast.parse(template_text(template))) or ""


@pytest.mark.parametrize("template", BOTH)
def test_the_header_lists_every_effect_loading_the_script_has(template):
    header = " ".join(_header(template).split())
    missing = [e.what for e in EFFECTS if template in e.scripts and e.words not in header]
    assert not missing, f"{template}'s header does not list: {missing}"
    assert "What loading this script does to the hub process" in header


@pytest.mark.parametrize("template", BOTH)
def test_the_header_is_short_and_in_an_operators_words(template):
    header = _header(template)
    assert len(header.splitlines()) <= HEADER_LINES
    assert not re.search(r"\b[AFM]\d+\b", header)   # no spec fact numbers in operator text
    assert "sys." not in header and "gc." not in header


def test_every_effect_says_why_and_how_it_is_undone():
    for effect in EFFECTS:
        assert effect.reason and effect.undone and effect.scripts and set(effect.scripts) <= set(BOTH)


def test_the_switch_interval_comes_back_unless_changed_meanwhile():
    before = sys.getswitchinterval()
    try:
        lowered = LoweredSwitchInterval(before / 5)
        assert sys.getswitchinterval() == pytest.approx(before / 5)
        lowered.undo()
        assert sys.getswitchinterval() == before
        lowered = LoweredSwitchInterval(before / 5)
        sys.setswitchinterval(before * 2)   # someone else's change stays
        lowered.undo()
        assert sys.getswitchinterval() == before * 2
    finally:
        sys.setswitchinterval(before)


CHECK = """
import gc, importlib, time
from vhctl_hub.effects import freeze_long_lived
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
