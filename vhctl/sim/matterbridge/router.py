"""The gateway: our api account plus simulated remote accounts, routed as Matterbridge does.

Lives on the server loop's thread only. What our account sends goes to the remote side, never back
to us (no echo, M39); what a remote user says goes to our ring and to every WebSocket client, in
order (M30, M56, M83), after the api bridge's event filter (M44) and our RemoteNickFormat (M41).
"""

from __future__ import annotations

from typing import Any, Protocol

from vhctl.sim.matterbridge.message import compact, new_message, now_rfc3339
from vhctl.sim.matterbridge.record import Record
from vhctl.sim.matterbridge.ring import Ring

# M44: never delivered to an api account, or only with the receiver's ShowJoinPart/ShowTopicChange.
NEVER_TO_API = frozenset({"msg_delete", "user_typing", "notice_irc", "topic_change"})
JOIN_LEAVE = "join_leave"
PARENT_NOT_FOUND = "msg-parent-not-found"


class Client(Protocol):
    """A WebSocket session as the router sees it: frames are queued, never awaited (M85)."""

    def enqueue(self, frame: bytes) -> None: ...

    def cut(self) -> None: ...


def _has_files(msg: dict[str, Any]) -> bool:
    extra = msg.get("Extra") or {}
    return bool(extra.get("file"))


class Router:
    """One gateway holding our account (served over HTTP) and any remote account by name."""

    def __init__(self, *, gateway: str, account: str, buffer: int, record: Record,
                 remote_nick_format: str = "{NICK}", show_join_part: bool = False) -> None:
        self.gateway = gateway
        self.account = account
        self.record = record
        self.ring = Ring(buffer, lambda: record.count("ring_overwritten"))
        self.clients: list[Client] = []
        self._nick_format = remote_nick_format
        self._show_join_part = show_join_part

    # --- our account -> the remote side

    def stamp(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The message as stored from our client: M19's overwrites over what it sent."""
        msg = new_message(**fields)
        msg.update(channel="api", protocol="api", account=self.account, id="",
                   timestamp=now_rfc3339())
        return msg

    def from_api(self, msg: dict[str, Any]) -> None:
        """Route a stamped message of ours: dropped quietly on a wrong gateway or no text (M22)."""
        if msg["gateway"] != self.gateway:
            self.record.count("dropped_gateway")
        elif not msg["text"] and not _has_files(msg):
            self.record.count("dropped_empty")
        else:
            self.record.add_received({**msg, "timestamp": now_rfc3339()})  # router time (M14)

    def loop_back(self, msg: dict[str, Any], sender: Client) -> None:
        """A decoded client frame, as sent, to the account's other WebSocket clients only (M72)."""
        frame = compact(msg)
        for client in list(self.clients):
            if client is not sender:
                client.enqueue(frame)

    # --- a remote account -> ours

    def inject(self, *, text: str, username: str, protocol: str, channel: str, account: str,
               event: str = "", userid: str = "", avatar: str = "", parent_id: str = "",
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A remote user's message, as our account receives it (or as it would, if filtered)."""
        self.record.count("injected")
        msg = new_message(text=text, channel=channel, username=self._nick(username, protocol, channel,
                                                                            account, userid),
                          userid=userid, avatar=avatar, account=account, event=event,
                          protocol=protocol, gateway=self.gateway, Extra=extra,
                          parent_id=PARENT_NOT_FOUND if parent_id else "")  # M47: ids never map
        if not self._accepts(msg):
            self.record.count("filtered_events")
            return msg
        self.record.count("delivered")
        self.ring.push(msg)  # M30: whether or not anyone is connected
        frame = compact(msg)
        for client in list(self.clients):  # M83: every client, the same order
            client.enqueue(frame)
        return msg

    def _accepts(self, msg: dict[str, Any]) -> bool:
        event = msg["event"]
        if event in NEVER_TO_API or (event == JOIN_LEAVE and not self._show_join_part):
            return False
        return bool(msg["text"]) or _has_files(msg)  # M44: empty text is dropped, files excepted

    def _nick(self, nick: str, protocol: str, channel: str, account: str, userid: str) -> str:
        """Our RemoteNickFormat filled from the source (M41); {NOPINGNICK} stays if nick is empty."""
        values = {"{NICK}": nick, "{PROTOCOL}": protocol, "{BRIDGE}": account.partition(".")[2],
                  "{LABEL}": "", "{GATEWAY}": self.gateway, "{CHANNEL}": channel,
                  "{USERID}": userid}
        if nick:
            values["{NOPINGNICK}"] = nick[:1] + "\u200b" + nick[1:]
        out = self._nick_format
        for key, value in values.items():
            out = out.replace(key, value)
        return out

    # --- reading our ring over HTTP

    def drain(self) -> list[dict[str, Any]]:
        self.record.count("ring_resets")
        return self.ring.drain()
