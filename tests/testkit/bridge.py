"""Helpers of the bridge tests: a simulated hub with matterbridge.py and an operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from testkit import tomltext
from testkit.api import ApiHub
from testkit.runtime import script_values, wait_until

from vhctl.render import render
from vhctl.sim.hub import Hub
from vhctl_hub.bridge import secret


class BridgeHub(ApiHub):
    """A simulated hub, an operator, and the rendered matterbridge.py (component "bridge"); loading,
    reloading, the live component and the clean shutdown are the API tests' (``ApiHub``)."""

    NAME = "bridge"

    def __init__(self, hub: Hub, folder: Path, mb: Any, token: Optional[str],  # noqa: PLW0231
                 settings: Dict[str, Any]) -> None:
        self.hub = hub
        self.mb = mb
        folder.mkdir(parents=True, exist_ok=True)
        self.state_dir = folder / "state"
        values = {"url": mb.url if mb is not None else "http://127.0.0.1:9", "gateway": "gateway1",
                  "retry_initial": 0.1, "retry_max": 1.0, **settings}
        lines = [f"{k} = {tomltext.value(v)}" for k, v in values.items()]
        self.config = folder / "vhctl.toml"
        self.config.write_text("# the operator's own comment\n"
                               f'[hub]\nstate_dir = "{self.state_dir}"\n[bridge]\n' + "\n".join(lines) + "\n",
                               encoding="utf-8")
        if token is not None:
            secret.store_token(token)
        self.script = folder / "matterbridge.py"
        self.script.write_text(render("matterbridge.py", script_values(self.config, "bridge")), encoding="utf-8")
        self.op = hub.login("Admin", user_class=5, share=0)
        self.sid: Optional[int] = None

    def connected(self, timeout: float = 10.0) -> Any:
        """Wait until the WebSocket is up (the stand-in counts a client)."""
        return wait_until(lambda: self.mb.ws_clients >= 1 and
                          self.component().ctx.status.get("in_state") == "connected", timeout, self.hub)

    def command(self, text: str, wait_for: Optional[str] = None, by: Any = None, in_pm: bool = False,
                timeout: float = 10.0) -> str:
        """Type ``text``; the immediate reply, or the first later line containing ``wait_for``."""
        who = by or self.op
        mark = len(who.messages())
        immediate = self.hub.call(who.command_reply, text, in_pm)
        if wait_for is None:
            return immediate
        return wait_until(lambda: next((m for m in who.messages()[mark:] if wait_for in m), None),
                          timeout, self.hub)

    def chat_lines(self, user: Any, bot: str = "[Bridge]") -> List[str]:
        """Main-chat lines ``user`` got from the bridge bot (protocol text, still NMDC-escaped)."""
        prefix = f"<{bot}> "
        return [m[len(prefix):] for m in user.messages() if m.startswith(prefix)]


def connected_lab(make_bridge_hub: Callable[..., BridgeHub], standin: Callable[..., Any],
                  mode: str) -> Tuple[Any, BridgeHub, Any]:
    """(a started stand-in, a bridge hub with its WebSocket up, a user "alice" reading main chat)."""
    mb = standin()
    bridge = make_bridge_hub(mode, mb)
    bridge.connected()
    return mb, bridge, bridge.hub.login("alice", share=0)
