"""Loading the rendered scripts: wrong or missing venv (F1), bad config, FastAPI in sub-interpreter
mode (A10), and the runtime's own imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
from testkit.runtime import component, free_port, load, wait_until

from vhctl_hub.starterror import describe_start_error
from vhctl_hub.status import read_status

FASTAPI_FIXTURE = '''
import pydantic  # like the API component: a PyO3 module, importable once per process in sub mode (A10)
from vhctl_fixture import Echo


class Api(Echo):
    name = "api"
'''


def _failed_load(hub, path, capfd):
    reply = hub.pyload(path)
    assert reply == f"Script not found or couldn't be parsed: {path}"
    assert hub.plugin.scripts() == []
    lines = [ln for ln in (capfd.readouterr().err + "\n".join(hub.stderr_lines)).splitlines() if "vhctl: " in ln]
    return lines


@pytest.mark.parametrize("problem, expected", [
    ({"site_packages": "/nonexistent/venv/lib/python3.11/site-packages", "venv": "/nonexistent/venv"},
     "the hub venv /nonexistent/venv is missing; run: vhctl install"),
    ({"python": "2.7"},
     "is for Python 2.7 but the plugin runs Python %d.%d; run: vhctl install" % sys.version_info[:2]),
])
def test_F1_wrong_venv_fails_with_one_line_and_leaves_the_hub_alone(make_hub, scripts, capfd, problem, expected):
    hub = make_hub()
    lines = _failed_load(hub, scripts.hub_api(scripts.config(), **problem), capfd)
    assert len({ln[ln.index("vhctl: "):] for ln in lines}) == 1 and expected in lines[0]
    assert problem.get("site_packages") not in sys.path
    if hub.mode == "single":  # no hook of ours was defined in the shared namespace
        assert "OnTimer" not in hub.plugin.shared_main.__dict__
    hub.tick()  # nothing of ours runs


@pytest.mark.parametrize("body, expected", [
    ("raise ImportError('no module named vhctl_missing')", "is not importable (no module named vhctl_missing); "
                                                           "run: vhctl install"),
    ("def broken(:\n    pass", "failed to start (SyntaxError: "),
    ("raise RuntimeError('boom')", "failed to start (RuntimeError: boom); please report it"),
])
def test_a_component_that_fails_to_import_in_any_way_is_one_line(make_hub, scripts, capfd, body, expected):
    """Whatever the import of the component raises, the load fails with one line, not a traceback
    (the template once met anything but ImportError with a NameError of its own)."""
    hub = make_hub()
    (scripts.dir / "vhctl_fixture_fails.py").write_text(body + "\n", encoding="utf-8")
    lines = _failed_load(hub, scripts.hub_api(scripts.config(), component="vhctl_fixture_fails:X"), capfd)
    assert len({ln[ln.index("vhctl: "):] for ln in lines}) == 1 and expected in lines[0], lines
    assert not any("Traceback" in ln or "NameError" in ln for ln in hub.stderr_lines)


def test_bad_config_fails_with_one_line(make_hub, scripts, capfd):
    hub = make_hub()
    config = scripts.config(extra="[runtime]\ntick_budget_ms = -1\n")
    lines = _failed_load(hub, scripts.hub_api(config), capfd)
    assert any("runtime.tick_budget_ms = -1.0 is not allowed" in ln and "fix it with: vhctl configure" in ln
               for ln in lines)


def test_A10_component_that_cannot_start_is_one_line_for_the_operator(make_hub, scripts):
    hub = make_hub()
    op = hub.login("op", user_class=3)
    load(hub, scripts.hub_api(scripts.config(), component="vhctl_fixture:Broken"))
    line = describe_start_error("broken", ImportError("PyO3 modules do not yet support subinterpreters"))
    wait_until(lambda: any(line in m for m in op.protocol_messages()), hub=hub)
    status = wait_until(lambda: (s := read_status(scripts.state_dir, "broken")) and s["state"] == "stopped" and s)
    assert status["last_error"] == line and not status["running"]


def test_A10_fastapi_reload_in_sub_mode_still_loads_and_says_why(make_hub, scripts, capfd):
    hub = make_hub()
    op = hub.login("op", user_class=3)
    (scripts.dir / "vhctl_fixture_fastapi.py").write_text(FASTAPI_FIXTURE, encoding="utf-8")
    port = free_port()
    path = scripts.hub_api(scripts.config(port=port), component="vhctl_fixture_fastapi:Api")
    first = load(hub, path)
    wait_until(lambda: component(hub, first, "api").port)
    reply = hub.pyreload(path)
    assert "is now loaded" in reply  # the script loads in both modes
    second = int(reply.rsplit("#", 1)[1].split(" ", 1)[0])
    if hub.mode == "single":  # one interpreter: the modules are still imported, the API runs again
        wait_until(lambda: component(hub, second, "api").port == port)
        return
    line = describe_start_error("api", ImportError("PyO3 modules do not yet support subinterpreters"))
    assert f"vhctl: {line}" in capfd.readouterr().err.splitlines()
    assert f"$To: op From: OpChat $<OpChat> vhctl {line}" in op.protocol_messages()
    # the supervisor writes the status file a moment later (off the hub thread)
    wait_until(lambda: (read_status(scripts.state_dir, "api") or {}).get("last_error") == line)
    # Another reload: the log says it again, OpChat (the operators know already) does not.
    assert "is now loaded" in hub.pyreload(path)
    assert f"vhctl: {line}" in capfd.readouterr().err.splitlines()
    assert op.protocol_messages().count(f"$To: op From: OpChat $<OpChat> vhctl {line}") == 1


def test_runtime_never_imports_pydantic_or_fastapi():
    code = ("import sys, pkgutil, importlib, vhctl_hub\n"
            "for m in pkgutil.iter_modules(vhctl_hub.__path__):\n"
            "    if m.name not in ('api',): importlib.import_module('vhctl_hub.' + m.name)\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] in "
            "('pydantic', 'pydantic_core', 'fastapi', 'starlette', 'uvicorn', 'anyio')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
