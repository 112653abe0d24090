"""What the snapshot shows of the hub beside its users: its settings, counters, robots and operators.

Hub thread only. Every read is one vh call or a few ``GetConfig`` calls (the user counter and the
share total every tick, the settings once per reconciliation, the robot and operator lists when a
reconciliation compares lists); a change is marked in ``Changes`` so that the next OnTimer publishes.
Totals come from ``GetUsersCount`` and ``GetTotalShareSize`` (a str, F49.47-48, F67-F68); the hub
lists class >= ``oplist_class`` as operators (F49.14).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

from vhctl_hub.events import EventFeed
from vhctl_hub.snapshot import OP_CLASS, Changes, parse_share
from vhctl_hub.text import HubCodec
from vhctl_hub.vhaccess import VhAccess


class HubInfo:
    """The hub's settings, counters, robots (displayed nicks) and operators (in the hub's order)."""

    def __init__(self, vh: VhAccess, feed: EventFeed, codec: Callable[[], HubCodec], changes: Changes) -> None:
        self._vh = vh
        self._feed = feed
        self._codec = codec
        self._changes = changes
        self.settings: Dict[str, Any] = {}
        self.counters = (0, 0)                # users online, total share
        self.bots: Tuple[str, ...] = ()
        self.ops: Dict[str, None] = {}        # an ordered set
        self.oplist_class = OP_CLASS
        #: The hub's dns_lookup: hosts were resolved at connect and vh.GetUserHost does not block.
        self.resolves = False

    def refresh_counters(self) -> int:
        """Read the user counter and the share total; returns the users online."""
        online = int(self._vh.call("GetUsersCount") or 0)
        share = parse_share(self._vh.call("GetTotalShareSize"))
        if (online, share) != self.counters:
            self.counters = (online, share)
            self._changes.mark()
            self._feed.publish("stats", None, users_online=online, total_share=share)
        return online

    def read_settings(self) -> bool:
        """Read the hub's settings; True when ``oplist_class`` changed (rare: the users' operator
        flags need one O(n) pass then)."""
        get = self._vh.get_config
        hub = {"hub_name": get("hub_name"), "hub_desc": get("hub_desc"),
               "hub_topic": self._vh.call("Topic") or get("hub_topic"),
               "max_users": parse_share(get("max_users")), "version": get("hub_version")}
        if hub != self.settings:
            self.settings = hub
            self._changes.mark()
        self.resolves = get("dns_lookup") == "1"
        text = get("oplist_class")
        oplist_class = int(text) if text.lstrip("-").isdigit() else OP_CLASS
        if oplist_class == self.oplist_class:
            return False
        self.oplist_class = oplist_class
        return True

    def read_ops(self) -> None:
        """The operators as the hub lists them (one whole-list vh call)."""
        show = self._codec().display
        ops = dict.fromkeys(show(n) for n in (self._vh.call("GetOpList") or ()))
        if list(ops) != list(self.ops):
            self.ops = ops
            self._changes.mark()

    def read_bots(self) -> Tuple[str, ...]:
        """The robots as the hub lists them (no hook tells about ``AddRobot``/``DelRobot``)."""
        show = self._codec().display
        bots = tuple(show(n) for n in (self._vh.call("GetBotList") or ()))
        if bots != self.bots:
            self.bots = bots
            self._changes.mark()
        return bots

    def snapshot_fields(self) -> Dict[str, Any]:
        """The ``HubSnapshot`` fields this part keeps."""
        hub = self.settings
        return {"hub_name": str(hub.get("hub_name", "")), "hub_desc": str(hub.get("hub_desc", "")),
                "hub_topic": str(hub.get("hub_topic", "")), "max_users": int(hub.get("max_users", 0)),
                "version": str(hub.get("version", "")), "users_online": self.counters[0],
                "total_share": self.counters[1], "bots": self.bots, "ops": tuple(self.ops)}
