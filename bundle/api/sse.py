"""``/api/events``: the runtime's event feed as Server-Sent Events.

Each connection follows the feed with its own cursor, polling it (a non-blocking slice under a short
lock) a few times per second from the event loop: no thread per client, nothing that could block the
hub thread. Private user fields and main-chat lines follow the same rule as everywhere in the API:
only with the token, and chat only when ``api.chat_events`` is on. A client that reconnects with
``Last-Event-ID`` continues where it left off (or gets a ``gap`` event if the feed moved on).

The framing is ours, not sse-starlette's: with sse-starlette 3.7.1 (tried, with its own tests
passing), once one API server of the process had stopped, every stream of an API started later in
the same process (single-interpreter mode shares every module: a `!pyunload` and `!pyload`, or two
hubs in one test process) ended at once, before its first event. The library keeps shutdown state
for the whole process and per thread, which a hub that starts and stops servers on threads does not
fit. An SSE message is three ``field: value`` lines, written by ``format_event`` below; the exact
bytes are tested in tests/api/test_app.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import AsyncIterator, Optional

from vhctl_hub.api.views import iso_utc, user_fields
from vhctl_hub.events import Event, EventFeed
from vhctl_hub.text import nmdc_unescape

#: Seconds between two looks at the feed.
POLL_SECONDS = 0.25
#: A comment line this often keeps proxies and clients from timing the stream out.
KEEPALIVE_SECONDS = 15.0
#: Client reconnect delay we suggest, milliseconds.
RETRY_MS = 3000


def start_cursor(last_event_id: Optional[str], feed: EventFeed) -> int:
    """Where a new stream starts: after ``Last-Event-ID`` if it is plausible, else at "now"."""
    latest = feed.latest_seq()
    if last_event_id and last_event_id.strip().isdigit():
        seq = int(last_event_id.strip())
        if seq <= latest:
            return seq
    return latest


def format_event(event: Event, private: bool, chat: bool) -> Optional[bytes]:
    """One SSE message, or None when this client may not see the event."""
    if event.kind == "chat" and not chat:
        return None
    data = {"seq": event.seq, "kind": event.kind, "at": iso_utc(event.at), "nick": event.nick}
    for key, value in event.data.items():
        if key == "user" and isinstance(value, dict):
            data["user"] = user_fields(value, private)
        elif key == "text" and isinstance(value, str):
            data["text"] = nmdc_unescape(value)
        else:
            data[key] = value
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"id: {event.seq}\nevent: {event.kind}\ndata: {payload}\n\n".encode("utf-8", "replace")


async def stream(feed: EventFeed, cursor: int, private: bool, chat: bool,
                 stopping: threading.Event) -> AsyncIterator[bytes]:
    """The body of one SSE response; ends when the API stops (or the client goes away)."""
    yield f"retry: {RETRY_MS}\n: vhctl hub events\n\n".encode()
    quiet_since = time.monotonic()
    while not stopping.is_set():
        events, cursor = feed.since(cursor)
        chunks = [c for c in (format_event(e, private, chat) for e in events) if c is not None]
        if chunks:
            quiet_since = time.monotonic()
            yield b"".join(chunks)
        elif time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield b": keepalive\n\n"
        await asyncio.sleep(POLL_SECONDS)
