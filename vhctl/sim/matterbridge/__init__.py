"""A Matterbridge stand-in: one ``[api.NAME]`` account of a real Matterbridge v1.26.0, on loopback.

It is product code (``vhctl demo`` connects the bridge script to it when no real Matterbridge is
given) and the peer of every bridge test. It is built from ``../shared/spec/matterbridge-api.md``
(M1-M88, checklist section O, WebSocket section P); where the real server is broken or surprising,
the stand-in is broken or surprising in the same way (the ring's capacity reset M32, the stream's
200 ms pacing M34 and competing readers M35, the 4-message swallow M36, the late greeting M67, the
1009 close on a 513-byte client frame M74, the ping deadline M79, the slow-client drops M85).

One gateway (``gateway``) joins our api account (``account``, served over HTTP) and any number of
simulated remote accounts (``irc.demo``, ``matrix.demo``...), which exist only as names: what a
remote user says is ``inject``-ed, and what our account sends is recorded as the remote side saw it.

Public API (stable; the bridge client's tests use it)::

    from vhctl.sim.matterbridge import MatterbridgeStandIn

    mb = MatterbridgeStandIn(
        host="127.0.0.1", port=0,          # 0: any free port, kept across restart()
        token=None,                        # None or "": open, as a real one without Token (M12)
        gateway="gateway1", account="api.vhctl",
        buffer=1000,                       # ring capacity (Buffer; 0 -> 10, M1)
        stream_interval=0.2,               # /api/stream poll pause (M34; HEAD: 0.1)
        stream_swallow=True,               # v1.26.0 bug mode: 4 lost after a stream disconnect (M36)
        ping_interval=54.0,                # WebSocket server ping period (M78)
        pong_timeout=60.0,                 # drop (FIN, no close frame) that long after the last pong (M79)
        write_timeout=10.0,                # a client stalled longer becomes a zombie (M85)
        client_queue=256,                  # per-client frame queue; beyond it frames drop (M85)
        max_client_frame=512,              # client message payload bytes before close 1009 (M74)
        late_greeting=0.0,                 # probability that a message frame precedes the greeting (M67)
        late_greeting_window=0.05,         # how long a late greeting waits for that message (seconds)
        seed=None,                         # seeds the late-greeting draw
        remote_nick_format="{NICK}",       # our account's RemoteNickFormat (M41)
        show_join_part=False,              # our account's ShowJoinPart (M44)
        ws_sndbuf=None,                    # SO_SNDBUF of WebSocket sockets (tests shrink the kernel part of M85)
    )
    mb.start()            # returns once listening; returns self (also a context manager)
    mb.url                # "http://127.0.0.1:PORT"   (no trailing slash)
    mb.ws_url             # "ws://127.0.0.1:PORT/api/websocket"
    mb.port
    mb.stop()             # abrupt, like SIGKILL: sockets closed, no final chunk (M53), no close frame
                          # (M80); the ring is gone. Idempotent.
    mb.restart(delay=0.0) # stop(), wait delay, start on the same port with an empty ring (M38, M54)
    mb.running            # bool

    # A remote user speaks: routed into the gateway, reaching our account (ring + every WebSocket
    # client, M30, M56). Returns the message as our account receives it (13 keys, M13).
    mb.inject(text, username, protocol="irc", channel="#hub", account="irc.demo",
              event="", userid="", avatar="", parent_id="", extra=None) -> dict
              # a non-empty parent_id arrives as "msg-parent-not-found" (M47)

    # The same for many lines in one call (benches): yields between lines, at most `rate` per second.
    mb.inject_many(texts, username, rate=None, timeout=600.0, **source) -> int   # source: as inject

    # What our account sent (POST /api/message or a WebSocket frame) that the router delivered to the
    # remote side, as routed (channel/protocol "api", account our id, router timestamp: M19, M40).
    mb.received() -> list[dict]                      # snapshot, oldest first
    mb.wait_received(count, timeout=10.0) -> list[dict]   # >= count of them, else TimeoutError
    mb.ring() -> list[dict]                          # what sits in our account's ring now
    mb.handed() -> list[dict]                        # every message a client of our account got, with
                                                     # "via": ws | stream | ring (what was routed to us
                                                     # and never handed over was lost inside it)
    mb.counters() -> dict[str, int]                  # see COUNTERS below (cumulative across restarts)
    mb.wait_counter(name, value, timeout=10.0) -> int    # until counters()[name] >= value
    mb.ws_clients -> int; mb.stream_clients -> int   # connected now
    mb.wait_until(lambda mb: mb.ws_clients == 2, timeout=10.0)   # polls a state, else TimeoutError

    # Faults for chaos tests, switchable at any time from any thread:
    mb.set_delay(seconds)      # every HTTP answer (and WebSocket upgrade) waits this long first
    mb.fail_posts(n)           # the next n POST /api/message get 500, not routed
    mb.blackhole(True)         # accept TCP, never answer; open streams/WebSockets go silent
                               # (no frames, no pings, no pongs) until blackhole(False)
    mb.refuse_websocket(True)  # /api/websocket answers 404 (no such route): the stream fallback
    mb.drop_websockets()       # cut our account's WebSockets (a network fault; Matterbridge stays up)

    mb.start_chatter(interval=4.0, seed=None)  # simulated remote users (alice on irc, bob on matrix...)
    mb.stop_chatter()                          # say a line every `interval` seconds (the demo)

COUNTERS: ``posts`` (POST /api/message answered 200), ``post_errors`` (4xx/5xx answers to POSTs),
``routed_out`` (reached the remote side), ``dropped_gateway`` (200 but wrong or missing gateway,
M22), ``dropped_empty`` (200 but no text and no file, M22), ``injected``, ``delivered`` (routed to our
account), ``filtered_events`` (M44), ``ring_overwritten`` (M31), ``ring_resets`` (M32),
``stream_sent``, ``stream_swallowed`` (M36), ``ws_connects``, ``ws_sent``, ``ws_dropped`` (M85),
``ws_too_big`` (M74), ``ws_undecodable`` (M71), ``ws_timeouts`` (M79), ``ws_zombies`` (M85: stalled
past ``write_timeout``), ``restarts``, ``auth_failures``.

Standalone server (runs until killed; SIGTERM ends it at once, as M53)::

    python -m vhctl.sim.matterbridge --port 4242 [--host 127.0.0.1] [--token-env VAR]
        [--gateway gateway1] [--account api.vhctl] [--buffer 1000] [--chatter SECONDS] [--seed N]

It prints one line ``listening on http://127.0.0.1:PORT`` to stdout once the port accepts.

Threading: the server runs on its own thread with its own asyncio loop; every public method may be
called from any thread, and none may be called from that loop's thread.

Known differences from the real server (the spec is silent, or a library decides): the exact wording
of Go's JSON error messages is reproduced for the cases M18 records and approximated for others;
client WebSocket frames that are invalid UTF-8 get close 1007 (the real one routes them with U+FFFD,
M71) and protocol-error close reasons are wsproto's, not gorilla's (M75); only one gateway; no emoji
rewrite (M51); HEAD is served as 405 like every wrong method (M7).

Modules, one job each: ``message`` (the message object, Go's JSON bytes and errors, RFC 3339),
``ring`` (the account's FIFO with the capacity bug), ``router`` (the gateway: no echo, events,
fan-out, records), ``auth`` (the Authorization check), ``http`` (HTTP/1.1 over h11: routes and
bodies), ``stream`` (/api/stream), ``websocket`` (/api/websocket over wsproto), ``server`` (thread,
loop, listener, faults and the public class), ``chatter`` (the demo's remote users), ``__main__``.
"""

from __future__ import annotations

from vhctl.sim.matterbridge.server import MatterbridgeStandIn

__all__ = ["MatterbridgeStandIn"]
