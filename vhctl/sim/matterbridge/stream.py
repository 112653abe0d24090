"""GET /api/stream: the greeting at once, then one ring message per poll, paced (M26-M29, M34-M36).

This is v1.26.0's handler loop: take at most one message out of the shared ring (so several stream
readers compete, M35), write it as one chunk, sleep ``stream_interval`` (200 ms, M34), forever. No
keepalive is ever written (M29). The loop does not notice a disconnected client: in
``stream_swallow`` mode (the release's bug, M36) it goes on taking messages until its fourth write
fails, and those four are lost to every reader; without it (master) it stops at once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Callable

from vhctl.sim.matterbridge.message import compact, greeting

if TYPE_CHECKING:
    from vhctl.sim.matterbridge.http import HttpConnection

SWALLOWED_WRITES = 4  # M36: writes to the dead socket before one fails


async def _watch_eof(reader: asyncio.StreamReader, gone: asyncio.Event, leave: Callable[[], None]) -> None:
    """When the client closes: ``leave`` (it no longer counts as a client, for the tests) and set
    ``gone`` (the loop may go on, M36); anything it sends meanwhile is ignored."""
    try:
        while await reader.read(65536):
            pass
    except ConnectionError:
        pass
    leave()
    gone.set()


async def serve(http: HttpConnection) -> None:
    """Run one stream until the client is gone (plus the swallow) or the server is killed."""
    ctx = http.ctx
    settings, router, record = ctx.settings, ctx.router, ctx.record
    http.start_chunked()
    http.chunk(compact(greeting()) + b"\n")  # M28: flushed at once
    gone = asyncio.Event()
    record_stream = ctx.stream_clients
    record_stream.add(http)
    watcher = asyncio.create_task(_watch_eof(http.reader, gone, lambda: record_stream.discard(http)))
    swallowed = 0
    try:
        while True:
            await ctx.faults.wait_unhung()
            if gone.is_set() and not settings.stream_swallow:
                return  # master notices the disconnect (M59); v1.26.0 goes on (M36)
            msg = router.ring.pop()
            if msg is not None:
                if gone.is_set():
                    swallowed += 1
                    record.count("stream_swallowed")
                    if swallowed >= SWALLOWED_WRITES:
                        return
                else:
                    http.chunk(compact(msg) + b"\n")
                    record.count("stream_sent")
                    record.add_handed("stream", compact(msg))
            await asyncio.sleep(settings.stream_interval)
    finally:
        record_stream.discard(http)
        watcher.cancel()
