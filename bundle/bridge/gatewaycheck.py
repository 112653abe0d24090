"""Is ``bridge.gateway`` a gateway Matterbridge routes our lines in? Two plain checks.

Why: Matterbridge answers 200 to a POST naming a gateway it does not have, or one that does not
hold our account, and drops the message silently (M22). Nothing in the answer tells, so:
- ``from_traffic``: what the bridge sees. Every message we receive names the gateway it was routed
  in (M14, M48); when messages arrive only from other gateways, ours is wrong and the right name is
  known. When lines were sent and nothing ever came back from any gateway, it may be wrong too;
- ``in_config``: Matterbridge's own ``matterbridge.toml``, where a caller can read it (the CLI's
  checks): a ``[[gateway]]`` of that name, enabled, listing our account (M2, M3, M22).
Both return one line for an operator (no fix commands: the caller knows its audience), or None.
No vhctl CLI import: this runs in the hub too.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]


def from_traffic(gateway: str, seen: Iterable[str], sent: int, quiet: bool) -> Optional[str]:
    """``seen``: gateway names of the messages received; ``quiet``: lines were sent long ago and
    nothing came back from ``gateway`` since."""
    others = sorted(g for g in set(seen) if g and g != gateway)
    if others and gateway not in set(seen):
        return (f"messages arrive from gateway {', '.join(others)}, but hub lines are sent to gateway "
                f"{gateway}, which Matterbridge accepts and drops: the gateway name is probably wrong")
    if quiet and sent:
        return (f"nothing has come back from gateway {gateway} since lines were sent; Matterbridge "
                "accepts but drops lines for a gateway it does not have, so check the gateway name")
    return None


def parse(text: str) -> Mapping[str, Any]:
    """A matterbridge.toml's text as data; ValueError (one line) when it is not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML: {exc}") from None


def in_config(data: Mapping[str, Any], gateway: str, account: str = "") -> Optional[str]:
    """What keeps ``account`` (``api.NAME``; "" if not known) from gateway ``gateway`` in a parsed
    matterbridge.toml, or None when an enabled gateway of that name lists it in both directions."""
    gateways = [g for g in data.get("gateway", []) if isinstance(g, Mapping)] \
        if isinstance(data.get("gateway"), list) else []
    ours = next((g for g in gateways if g.get("name") == gateway), None)
    if ours is None:
        names = ", ".join(str(g.get("name")) for g in gateways) or "none"
        near = [str(g.get("name")) for g in gateways if str(g.get("name")).lower() == gateway.lower()]
        hint = f" (names are exact: {near[0]}?)" if near else ""
        return (f"Matterbridge has no gateway named {gateway}{hint}; it has: {names}. It accepts lines "
                "for an unknown gateway and drops them")
    if ours.get("enable") is not True:
        return f"the gateway {gateway} is not enabled in Matterbridge's configuration (enable=true)"
    if not account:
        return None
    ways = {key for key in ("inout", "in", "out") for entry in ours.get(key, []) or []
            if isinstance(entry, Mapping) and entry.get("account") == account}
    if not ways:
        return f"the gateway {gateway} does not list the account {account}, so Matterbridge drops its lines"
    if "inout" not in ways and ways != {"in", "out"}:
        return f"the gateway {gateway} lists {account} only as {ways.pop()}: the bridge needs both directions"
    return None
