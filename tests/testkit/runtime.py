"""Helpers of the runtime tests: rendered scripts, configs, free ports, polling, component access."""

from __future__ import annotations

import shutil
import socket
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any, Callable, List, Optional

from vhctl.render import render, render_text
from vhctl.sim.hub import Hub

#: The component and script fixtures the runtime tests load into the simulated hub.
HERE = Path(__file__).resolve().parents[1] / "runtime"
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
PYTHON = "%d.%d" % sys.version_info[:2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, hub: Optional[Hub] = None) -> Any:
    """Poll ``predicate`` (ticking ``hub`` meanwhile, so queued work runs) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        if hub is not None:
            hub.tick()
        time.sleep(0.02)


def script_values(config: Path, component: str) -> dict:
    """The values `vhctl render` would give a script for this test process's venv and ``config``."""
    return {"venv": str(Path(SITE_PACKAGES).parents[2]), "site_packages": SITE_PACKAGES,
            "python": PYTHON, "config_file": str(config), "component": component}


class Scripts:
    """Writes configs and rendered scripts for one test."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.dir = tmp / "scripts"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = tmp / "state"
        shutil.copy(HERE / "fixture_components.py", self.dir / "vhctl_fixture.py")

    def config(self, name: str = "vhctl.toml", port: int = 0, command_class: int = 3,
               extra: str = "") -> Path:
        path = self.tmp / name
        path.write_text(f'[hub]\nstate_dir = "{self.state_dir}"\n'
                        f"[api]\nport = {port}\ncommand_class = {command_class}\n{extra}",
                        encoding="utf-8")
        return path

    def hub_api(self, config: Path, component: str = "vhctl_fixture:Echo", name: str = "hub_api.py",
                **overrides: Any) -> str:
        values = {**script_values(config, component), **overrides}
        return self._write(name, render("hub_api.py", values))

    def second(self, config: Path, component: str = "vhctl_fixture:Bridge",
               name: str = "fixture_bridge.py") -> str:
        text = (HERE / "fixture_script.py").read_text(encoding="utf-8")
        values = {"site_packages": SITE_PACKAGES, "config_file": str(config), "component": component}
        return self._write(name, render_text(text, values, "fixture_script.py"))

    def third_party(self, source: str, name: str = "thirdparty.py") -> str:
        return self._write(name, source)

    def _write(self, name: str, text: str) -> str:
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        return str(path)



def ticks(hub: Hub, count: int) -> None:
    """``count`` OnTimer events. OnTimer gets the time to the millisecond (A8) and a real hub's ticks
    are >= 50 ms apart (F36), so no two ticks share an argument: that argument is all that tells two
    ticks apart in single mode (no message comes between them, bundle/dedup.py). The short sleep
    keeps it true when ticking by hand faster than a hub would."""
    for _ in range(count):
        time.sleep(0.002)
        hub.tick()


def runtime_of(hub: Hub, sid: int) -> Any:
    """The vhctl runtime a loaded script uses (its own copy in sub mode, the shared one in single)."""
    return hub.plugin.script_module(sid).hub_runtime.runtime()


def components(hub: Hub, sid: int) -> List[Any]:
    """The live components of the runtime script ``sid`` uses."""
    return [i.component for i in runtime_of(hub, sid).instances()]


def component(hub: Hub, sid: int, name: str) -> Any:
    """One live component by name (AssertionError if absent)."""
    found = [c for c in components(hub, sid) if c.ctx.name == name]
    assert found, f"no live component {name!r} in script #{sid}"
    return found[0]


def load(hub: Hub, path: str) -> int:
    """``!pyload`` as the master; the new script id."""
    reply = hub.pyload(path)
    assert " is now loaded: " in reply, reply
    return int(reply.split("#", 1)[1].split(" ", 1)[0])


def connect(port: int) -> bytes:
    """What a TCP client gets from the fixture component's listener."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        return sock.recv(100)
