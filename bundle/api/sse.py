"""``/api/events``: the runtime's event feed as Server-Sent Events, framed and sent by sse-starlette.

Each connection follows the feed with its own cursor, polling it (a non-blocking slice under a short
lock) a few times per second from the event loop: no thread per client, nothing that could block the
hub thread. Private user fields and main-chat lines follow the same rule as everywhere in the API:
only with the token, and chat only when ``api.chat_events`` is on. A client that reconnects with
``Last-Event-ID`` continues where it left off (or gets a ``gap`` event if the feed moved on).

What sse-starlette does in the hub's process (checked in both plugin modes and across reloads,
tests/api/test_sse_lib.py): importing it replaces ``uvicorn.Server.handle_exit``, a class attribute,
so process-wide (in single-interpreter mode shared by every script and kept across reloads), with a
wrapper that also sets its own process-wide ``AppStatus.should_exit``, which nothing resets and which
would end every later stream. Nothing here calls ``handle_exit``: our server stops by setting
``should_exit`` on its own instance, and uvicorn installs signal handlers only on the main thread
(the hub's, where no server runs), so the flag stays down and the streams end by the server's own
``stopping`` event. Its shutdown watcher lives per thread, and the server thread is new at each start.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import AsyncIterator, Optional

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from vhctl_hub.api.views import iso_utc, user_fields
from vhctl_hub.events import Event, EventFeed
from vhctl_hub.text import nmdc_unescape

#: Seconds between two looks at the feed.
POLL_SECONDS = 0.25
#: A comment line this often keeps proxies and clients from timing the stream out.
KEEPALIVE_SECONDS = 15.0
#: Client reconnect delay we suggest, milliseconds.
RETRY_MS = 3000
#: Lines end with LF alone, as most SSE clients and proxies expect.
SEP = "\n"


def start_cursor(last_event_id: Optional[str], feed: EventFeed) -> int:
    """Where a new stream starts: after ``Last-Event-ID`` if it is plausible, else at "now"."""
    latest = feed.latest_seq()
    if last_event_id and last_event_id.strip().isdigit():
        seq = int(last_event_id.strip())
        if seq <= latest:
            return seq
    return latest


def format_event(event: Event, private: bool, chat: bool) -> Optional[ServerSentEvent]:
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
    return ServerSentEvent(payload, id=str(event.seq), event=event.kind, sep=SEP)


async def stream(feed: EventFeed, cursor: int, private: bool, chat: bool,
                 stopping: threading.Event) -> AsyncIterator[bytes]:
    """The body of one SSE response; ends when the API stops (or the client goes away). The events
    of one look at the feed go out as one chunk (one send, not one per event)."""
    yield ServerSentEvent(comment="vhctl hub events", retry=RETRY_MS, sep=SEP).encode()
    while not stopping.is_set():
        events, cursor = feed.since(cursor)
        messages = [m for m in (format_event(e, private, chat) for e in events) if m is not None]
        if messages:
            yield b"".join(m.encode() for m in messages)
        await asyncio.sleep(POLL_SECONDS)


def response(body: AsyncIterator[bytes], background: BackgroundTask) -> EventSourceResponse:
    """The streaming response: ``Cache-Control: no-store`` and ``X-Accel-Buffering: no`` (set by the
    library), a keepalive comment every ``KEEPALIVE_SECONDS``, ``background`` run when it ends."""
    return EventSourceResponse(body, background=background, ping=KEEPALIVE_SECONDS, sep=SEP,
                               ping_message_factory=lambda: ServerSentEvent(comment="keepalive", sep=SEP))
