"""Helpers of the API tests: snapshots by hand, a standalone server, a simulated hub with hub_api.py."""

from __future__ import annotations

import os
import threading
import time
import types
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set

import requests

from testkit import tomltext
from testkit.runtime import component, script_values, wait_until

from vhctl.render import render
from vhctl.sim.hub import Hub
from vhctl_hub.api.admission import Limits
from vhctl_hub.api.auth import TokenKeeper
from vhctl_hub.api.metrics import RequestCounter
from vhctl_hub.api.server import ApiServer
from vhctl_hub.api.views import Views
from vhctl_hub.api.webstack import WebStack
from vhctl_hub.config import ApiSettings
from vhctl_hub.events import EventFeed
from vhctl_hub.snapshot import HubSnapshot, UserInfo, class_name


def user(nick: str, cls: int = 0, share: int = 0, **fields: Any) -> UserInfo:
    values: Dict[str, Any] = dict(
        nick=nick, user_class=cls, class_name=class_name(cls), ip="10.1.2.3", host="host.example",
        country_code="L1", country="Local Network", description="desc", tag="<++ V:0.868,M:A,H:1/0/0,S:3>",
        speed="100", email=f"{nick}@example.invalid", share=share, is_op=cls >= 3, login_time=1795555016.5)
    values.update(fields)
    return UserInfo(**values)


def snapshot(users: List[UserInfo], **fields: Any) -> HubSnapshot:
    values: Dict[str, Any] = dict(
        taken_at=time.time(), hub_name="LabHub", hub_desc="A lab hub", hub_topic="", max_users=6000,
        version="1.7.0.0", users_online=len(users), total_share=sum(u.share for u in users),
        users=types.MappingProxyType({u.nick: u for u in users}), bots=("Verlihub", "OpChat"),
        ops=tuple(u.nick for u in users if u.is_op) + ("Verlihub", "OpChat"), complete=True)
    values.update(fields)
    return HubSnapshot(**values)


def get(url: str, token: Optional[str] = None, **headers: str) -> requests.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(url, headers=headers, timeout=10)


def listening_ports() -> Set[int]:
    """TCP ports this process listens on (sockets among its fds in LISTEN state)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table, encoding="ascii") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def api_threads() -> List[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("vhctl-api"))


class StandaloneApi:
    """The real app and server over a settable snapshot, without a hub (unit level)."""

    def __init__(self, snap: HubSnapshot, limits: Optional[Limits] = None, **settings: Any) -> None:
        self.snapshot = snap
        self.logs: List[str] = []
        self.feed = EventFeed()
        self.keeper = TokenKeeper(self.logs.append)
        self.keeper.refresh()
        self.requests = RequestCounter()
        self.settings = ApiSettings(**settings)
        self.threads: List[threading.Thread] = []
        stack = WebStack()
        assert stack.error is None, stack.error
        self.server = ApiServer(self._thread, stack, limits)
        self.health: Optional[Dict[str, Any]] = None
        app = stack.app.build_app(stack.app.AppDeps(
            views=Views(lambda: self.snapshot), keeper=self.keeper, requests=self.requests, feed=self.feed,
            settings=self.settings, cache_age=lambda s: 0.25, health=lambda: self.health,
            stopping=lambda: self.server.stopping))
        self.url = self.server.start(app, "127.0.0.1", 0)

    def _thread(self, target: Callable[..., Any], name: str, *args: Any) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=f"vhctl-api-test-{name}", daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def get(self, path: str, token: Optional[str] = None, **headers: str) -> requests.Response:
        return get(self.url + path, token, **headers)

    def close(self) -> None:
        self.server.stop()
        assert not [t for t in self.threads if t.is_alive()]


class ApiHub:
    """A simulated hub, an operator, and the rendered hub_api.py (component "api")."""

    #: The name of the component the loaded script runs.
    NAME = "api"

    def __init__(self, hub: Hub, folder: Path, api_settings: Dict[str, Any]) -> None:
        self.hub = hub
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.state_dir = folder / "state"
        settings = {"port": 0, **api_settings}
        lines = [f"{k} = {tomltext.value(v)}" for k, v in settings.items()]
        self.config = folder / "vhctl.toml"
        self.config.write_text(f'[hub]\nstate_dir = "{self.state_dir}"\n[api]\n' + "\n".join(lines) + "\n",
                               encoding="utf-8")
        self.script = folder / "hub_api.py"
        self.script.write_text(render("hub_api.py", script_values(self.config, "api")), encoding="utf-8")
        self.op = hub.login("Admin", user_class=5, share=0)
        self.sid: Optional[int] = None

    # ---------------------------------------------------------------- script
    def load(self) -> str:
        reply = self.command(f"!pyload {self.script}")
        assert " is now loaded: " in reply, reply
        self.sid = int(reply.rsplit("#", 1)[1].split(" ", 1)[0])
        return reply

    def reload(self) -> str:
        reply = self.command(f"!pyreload {self.sid}")
        assert " is now loaded: " in reply, reply
        self.sid = int(reply.rsplit("#", 1)[1].split(" ", 1)[0])
        return reply

    def component(self) -> Any:
        """The live component (``NAME``) of the loaded script (its own copy in sub mode)."""
        assert self.sid is not None, "no script loaded"
        return component(self.hub, self.sid, self.NAME)

    def url(self, timeout: float = 10.0) -> str:
        """The URL once the component serves."""
        return wait_until(lambda: self.component().server.url, timeout, self.hub)

    # ---------------------------------------------------------------- chat
    def command(self, text: str, wait_for: Optional[str] = None, by: Any = None,
                timeout: float = 10.0) -> str:
        """Type ``text`` (as the operator); the immediate reply, or the first later line containing
        ``wait_for`` (replies of `!api start/stop` come from a thread, after the bind)."""
        who = by or self.op
        mark = len(who.messages())
        # !pyload imports FastAPI on the hub thread: many seconds on a loaded machine
        immediate = self.hub.call(who.command_reply, text, timeout=120)
        if wait_for is None:
            return immediate
        return wait_until(lambda: next((m for m in who.messages()[mark:] if wait_for in m), None),
                          timeout, self.hub)

    def shutdown(self) -> None:
        hub = self.hub
        if hub.running and hub.crashed is None:
            hub.call(hub.plugin.hook, "OnUnLoad", 0)
        hub.stop()
        assert not hub.errors, hub.errors[0]
        hub.plugin.violations.assert_clean()

