"""TOML text the tests write: values spelled as TOML, and Matterbridge's ``[[gateway]]`` tables
(M2), so that each test states only the gateways it needs, not the tables' layout again."""

from __future__ import annotations

from typing import Any, Sequence, Tuple

#: An (account, channel) pair of a gateway, e.g. ("api.vhctl", "api").
Route = Tuple[str, str]


def value(item: Any) -> str:
    """``item`` spelled as a TOML value (bool, number, string or a list of them)."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (list, tuple)):
        return "[" + ", ".join(value(v) for v in item) + "]"
    if isinstance(item, str):
        return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(item)


def gateway(name: str, enable: bool = True, inout: Sequence[Route] = (), in_: Sequence[Route] = (),
            out: Sequence[Route] = ()) -> str:
    """One ``[[gateway]]`` table with its ``[[gateway.inout]]`` / ``.in`` / ``.out`` routes."""
    lines = ["[[gateway]]", f"name = {value(name)}", f"enable = {value(enable)}"]
    for direction, routes in (("inout", inout), ("in", in_), ("out", out)):
        for account, channel in routes:
            lines += [f"  [[gateway.{direction}]]", f"  account = {value(account)}",
                      f"  channel = {value(channel)}"]
    return "\n".join(lines) + "\n"
