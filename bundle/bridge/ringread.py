"""After a gap in our WebSocket: read back what Matterbridge routed meanwhile from its ring.

Why and how (the spec's section I and M82, M86):
- a WebSocket client gets only what is routed while it is connected (no replay, M82), but every
  message is also put in the account's ring, which WebSocket delivery does not consume (M56, M86);
- so once the WebSocket is connected again (and has said so with its first frame: from then on
  every routed message reaches it), one ``GET /api/messages`` returns the ring, oldest first.
  What is older than the gap, or already shown (the WebSocket or an earlier read), is skipped by
  router timestamp and content (M14); the rest is shown, before anything newer;
- never the stream for this: it consumes the ring at 5 msg/s and loses 4 per reconnect (M34, M36).

What it costs and what can still be lost (the README says it for operators):
- the first ``GET /api/messages`` resets the ring's capacity to 10 until Matterbridge restarts
  (M32), so after it a gap keeps at most the last 10 messages routed in it. A read that finds
  exactly 10, none of them known, most likely lost older ones (there are no sequence numbers to
  tell): counted as ``in_ring_overflow``, a gap with a loss of unknown size;
- the ring is memory: a Matterbridge restart empties it (M38, M54);
- a stream or polling client of the same account competes for the ring (M35).
"""

from __future__ import annotations

import http.client
import json
import re
from datetime import datetime
from typing import Any, Callable, List, Mapping, Optional
from urllib.parse import urlsplit

from vhctl_hub.bridge.inlet import message_key
from vhctl_hub.bridge.link import Link, LinkReport

#: The smallest capacity the ring ever has (the default, and after a read, M1, M32).
RING_MIN = 10
READ_TIMEOUT = 10.0
#: A ring answer larger than this is not read, bytes.
MAX_BODY = 256 * 1024 * 1024

_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def router_time(stamp: Any) -> Optional[float]:
    """Unix seconds of an RFC 3339 router timestamp with 0-9 fraction digits (M15), else None."""
    match = _RFC3339.match(stamp) if isinstance(stamp, str) else None
    if match is None:
        return None
    base, fraction, zone = match.groups()
    try:
        whole = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone)).timestamp()
    except ValueError:
        return None
    return whole + (float("0" + fraction) if fraction else 0.0)


def fetch(link: Link) -> List[Mapping[str, Any]]:
    """``GET /api/messages``: the ring, oldest first (M24-M25); OSError/ValueError on failure."""
    parts = urlsplit(link.url)
    factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = factory(parts.netloc, timeout=READ_TIMEOUT)
    try:
        conn.request("GET", f"{parts.path}/api/messages", headers=link.headers())
        resp = conn.getresponse()
        body = resp.read(MAX_BODY + 1)
        if resp.status != 200:
            raise OSError(f"HTTP {resp.status}")
        if len(body) > MAX_BODY:
            raise ValueError("the ring answer is too large")
    except http.client.HTTPException as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    data = json.loads(body)
    if not isinstance(data, list):
        raise ValueError("the ring answer is not a list")
    return [m for m in data if isinstance(m, dict)]


class Recovery:
    """One ring read after a gap: fetch, skip what is old or known, hand the rest on in order."""

    def __init__(self, link: Link, report: LinkReport, known: Callable[[str], bool],
                 deliver: Callable[[Any], None]) -> None:
        self.link = link
        self.report = report
        self.known = known
        self.deliver = deliver

    def run(self, since: Optional[float]) -> None:
        """Read the ring and deliver what the gap (after ``since``, router time) left in it."""
        for msg in self.collect(since):
            self.deliver(msg)

    def collect(self, since: Optional[float]) -> List[Mapping[str, Any]]:
        """The ring's messages from the gap that are not known yet, oldest first (counted)."""
        try:
            ring = fetch(self.link)
        except (OSError, ValueError) as exc:
            self.report.count("ring_failed")
            self.report.error(f"could not read back Matterbridge's buffer after a gap: {exc}"[:300])
            return []
        self.report.count("ring_reads")
        fresh = []
        overlap = False
        for msg in ring:
            stamp = router_time(msg.get("timestamp"))
            if self.known(message_key(msg)) or (since is not None and stamp is not None and stamp < since):
                overlap = True
                continue
            fresh.append(msg)
        if fresh and not overlap and len(ring) == RING_MIN:
            self.report.count("ring_overflow")  # full at the capacity left by a read: likely overwritten
        self.report.count("recovered", len(fresh))
        return fresh
