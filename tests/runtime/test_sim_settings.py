"""The runtime settings when two scripts register with one runtime (bundle/sharedsettings.py).

Single mode (F3): one runtime for every script; the first registration's settings win, another
component's differing ones are logged once, a reload of the first brings its new settings in. Sub
mode: each script has a runtime of its own, with its own settings and nothing to log."""

from __future__ import annotations

from testkit.runtime import load, runtime_of

from vhctl_hub.config import RuntimeSettings
from vhctl_hub.sharedsettings import SharedSettings

NOT_USED = "settings (tick_budget_ms=7.0 (kept: 4.0)) are not used"


def _runtime_settings(budget: float) -> str:
    return f"[runtime]\ntick_budget_ms = {budget}\n"


def _reloaded(reply: str) -> int:
    """The new script id a `!pyreload` reply names."""
    assert " is now loaded: " in reply, reply
    return int(reply.rsplit("#", 1)[1].split(" ", 1)[0])


def _not_used_lines(hub, capfd, seen: list[str]) -> list[str]:
    """The hub log's lines about settings not used so far (what the hub kept, and what the test
    process printed: the simulator runs the scripts in this process)."""
    seen.extend(capfd.readouterr().err.splitlines())
    return [line for line in seen + hub.stderr_lines if "are not used" in line]


def test_F3_the_first_registration_sets_the_runtime_settings_in_both_modes(make_hub, scripts, capfd):
    hub, seen = make_hub(), []
    first_config = scripts.config(extra=_runtime_settings(4))
    first = load(hub, scripts.hub_api(first_config))
    second_path = scripts.second(scripts.config("second.toml", extra=_runtime_settings(7)))
    second = load(hub, second_path)
    if hub.mode == "sub":
        assert runtime_of(hub, first).settings().tick_budget_ms == 4.0
        assert runtime_of(hub, second).settings().tick_budget_ms == 7.0
        assert _not_used_lines(hub, capfd, seen) == []
        return
    runtime = runtime_of(hub, second)
    assert runtime is runtime_of(hub, first)
    assert runtime.settings().tick_budget_ms == 4.0 and runtime.settings.owner == "echo"
    lines = _not_used_lines(hub, capfd, seen)
    assert len(lines) == 1 and NOT_USED in lines[0] and "those of echo, loaded first" in lines[0]
    second = _reloaded(hub.pyreload(second_path))        # the same settings again: logged once
    assert len(_not_used_lines(hub, capfd, seen)) == 1
    first_config.write_text(first_config.read_text().replace("tick_budget_ms = 4", "tick_budget_ms = 5"))
    _reloaded(hub.pyreload(first))   # the first component with a changed config: its settings come in
    assert runtime_of(hub, second).settings().tick_budget_ms == 5.0
    assert len(_not_used_lines(hub, capfd, seen)) == 1


def test_a_registration_after_the_first_component_is_gone_sets_the_settings():
    shared = SharedSettings()
    four, seven = RuntimeSettings(tick_budget_ms=4.0), RuntimeSettings(tick_budget_ms=7.0)
    assert shared.offer("api", four, live=[]) is None and shared() is four
    assert "kept: 4.0" in (shared.offer("bridge", seven, live=["api"]) or "")
    assert shared.offer("bridge", seven, live=["api"]) is None and shared() is four   # once
    assert shared.offer("bridge", four, live=["api"]) is None                          # same: silent
    assert shared.offer("bridge", seven, live=["bridge"]) is None and shared() is seven
    assert shared.owner == "bridge"
