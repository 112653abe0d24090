"""``!bridge status`` in words, from the status board (the same fields the status file shows)."""

from __future__ import annotations

import time
from typing import Any, Dict, List

#: After this many seconds with lines sent and nothing received from the gateway, status warns.
QUIET_WARNING = 300.0


def _ago(at: Any, now: float) -> str:
    return f"{max(0, int(round(at - now)))} s" if isinstance(at, (int, float)) else "?"


def status_lines(fields: Dict[str, Any], extra: Dict[str, Any], running: bool) -> List[str]:
    """A few lines for the operator (never a secret: the board has none)."""
    now = time.time()
    counters = fields.get("counters", {})
    if not running:
        head = "bridge stopped"
    else:
        head = (f"bridge to {extra['url']} gateway {extra['gateway']}: receiving "
                f"{fields.get('in_state', 'starting')} ({fields.get('in_transport', 'websocket')}), "
                f"sending {fields.get('out_state', 'starting')}")
    lines = [head + f"; {extra['auth']}"]
    for side, word in (("in", "receiving"), ("out", "sending")):
        retry = fields.get(f"{side}_retry_at")
        error = fields.get(f"{side}_error")
        if running and error and fields.get(f"{side}_state") not in ("connected", "up"):
            lines.append(f"  {word}: {error}" + (f"; next try in {_ago(retry, now)}" if retry else ""))
    lines.append(f"  to Matterbridge: {extra['waiting']} waiting, {counters.get('out_sent', 0)} sent, "
                 f"{extra['dropped']} dropped (queue full), {counters.get('out_unknown', 0)} of unknown fate, "
                 f"{counters.get('out_rejected', 0)} refused")
    lines.append(f"  from Matterbridge: {counters.get('in_relayed', 0)} shown, {extra.get('waiting_in', 0)} "
                 f"waiting, {counters.get('in_truncated', 0)} cut, {counters.get('in_dropped', 0)} dropped "
                 f"(hub too busy), {counters.get('in_connects', 0)} connects")
    if counters.get("in_ring_reads") or counters.get("in_ring_failed"):
        overflow = counters.get("in_ring_overflow", 0)
        lines.append(f"  after gaps: {counters.get('in_recovered', 0)} read back from Matterbridge's buffer in "
                     f"{counters.get('in_ring_reads', 0)} reads"
                     + (f", {counters['in_ring_failed']} reads failed" if counters.get("in_ring_failed") else "")
                     + (f"; {overflow} gaps were longer than its buffer (their oldest lines are lost)"
                        if overflow else ""))
    if fields.get("in_transport") == "stream" and fields.get("in_limits"):
        lines.append(f"  note: {fields['in_limits']}")
    if extra.get("gateway_check"):
        lines.append(f"  note: {extra['gateway_check']} (!bridge gateway NAME)")
    return lines
