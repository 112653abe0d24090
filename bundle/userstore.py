"""The online users as the cache knows them, and the vh reads that fill them in.

Hub thread only, except ``vh_nick`` (any thread). Besides the users (``usermap.UserTable``: cheap
to publish) it keeps what a reconciliation checks: the vh-side nick of each user, the users whose
hooks the plugin skips (some of their text is not valid UTF-8, F23), those of operator class as last
read, and those the hub lists but vh cannot address (a UTF-8 nick a CP1252 hub cannot represent, F53).

Strings: vh results are converted from the hub encoding (F53-F55); ``HubCodec`` maps them to the one
displayed form, the keys. vh is asked with the vh-side nick. Share comes from ``GetMyINFO()[5]``
(F49.10). ``vh.GetUserHost`` is called only when the hub's ``dns_lookup`` is on: then the hub
resolved each host when the user connected and the call returns it; with it off (the default) the
call would block the hub thread on a reverse DNS lookup, every time (F49.19, script_api.cpp), so
``host`` stays null.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from vhctl_hub.events import EventFeed
from vhctl_hub.hubinfo import HubInfo
from vhctl_hub.snapshot import OP_CLASS, Changes, UserInfo, class_name, parse_share, split_speed
from vhctl_hub.text import HubCodec
from vhctl_hub.usermap import UserMap, UserTable
from vhctl_hub.vhaccess import VhAccess

Fields = Dict[str, Any]


class UserStore:
    """The users, keyed by displayed nick; every change is marked for the next snapshot and told to
    the event feed."""

    def __init__(self, vh: VhAccess, feed: EventFeed, codec: Callable[[], HubCodec], hub: HubInfo,
                 changes: Changes) -> None:
        self._vh = vh
        self._feed = feed
        self._codec = codec
        self._hub = hub
        self._changes = changes
        self._users = UserTable()
        self._vh_nicks: Dict[str, str] = {}
        self.blind: Set[str] = set()          # users whose hooks the plugin skips (F23)
        self.op_users: Set[str] = set()       # users of class >= oplist_class as last read
        self.unfetchable: Set[str] = set()    # users the hub lists but vh cannot address (F53)
        self._countries: Dict[str, Optional[str]] = {}

    # ---------------------------------------------------------------- readers
    def __len__(self) -> int:
        return len(self._users)

    def get(self, nick: str) -> Optional[UserInfo]:
        return self._users.get(nick)

    def nicks(self) -> Mapping[str, int]:
        """Displayed nick -> arrival chunk (a live view: its ``keys()`` support set operations)."""
        return self._users.nicks()

    def chunk_ids(self) -> List[int]:
        return self._users.chunk_ids()

    def chunk_nicks(self, chunk_id: int) -> List[str]:
        return self._users.chunk_nicks(chunk_id)

    def vh_nick(self, nick: str) -> str:
        """The vh-side name of a displayed nick (any thread; falls back to the hook conversion)."""
        return self._vh_nicks.get(nick) or self._codec().hook_to_vh(nick)

    def publish(self) -> UserMap:
        return self._users.publish()

    # ---------------------------------------------------------------- changes
    def login(self, vh_nick: str, login_time: Optional[float]) -> Optional[UserInfo]:
        """Fetch a user who logged in (or whom a reconciliation found) and store them; None when vh
        cannot address them (the caller keeps track of those)."""
        fetched = self._fetch(vh_nick, login_time)
        if fetched is None:
            return None
        info, blind = fetched
        self._store(info, vh_nick, blind)
        self._feed.publish("login", info.nick, user=info.to_dict())
        return info

    def logout(self, nick: str) -> bool:
        """Forget a user; False when they were not stored."""
        if self._users.pop(nick) is None:
            return False
        self._vh_nicks.pop(nick, None)
        self._hub.ops.pop(nick, None)
        self.blind.discard(nick)
        self.op_users.discard(nick)
        self._changes.mark()
        self._feed.publish("logout", nick)
        return True

    def myinfo(self, nick: str, desc: str, tag: str, speed: str, email: str, share: str) -> bool:
        """A MyINFO the hook parsed (vh may still hold the old one); False for a user not stored."""
        old = self._users.get(nick)
        if old is None:
            return False
        info = replace(old, description=desc, tag=tag, speed=split_speed(speed), email=email,
                       share=parse_share(share))
        if info != old:
            self._users.put(info)
            self._changes.mark()
            self._feed.publish("myinfo", nick, user=info.to_dict())
        return True

    def verify(self, nick: str) -> int:
        """Read a stored user's MyINFO and class from vh again; 1 if that changed the store."""
        old = self._users.get(nick)
        if old is None:
            return 0
        vh_nick = self._vh_nicks.get(nick, nick)
        read = self._read(vh_nick)
        if read is None:
            return 0
        fields, blind = read
        info = replace(old, **fields)
        if info == old:
            self._flag(old, blind)
            return 0
        self._store(info, vh_nick, blind)
        self._feed.publish("myinfo", nick, user=info.to_dict())
        return 1

    def reclass(self) -> None:
        """The hub's ``oplist_class`` changed: which users are of operator class (one O(n) pass)."""
        oplist_class = self._hub.oplist_class
        self.op_users = {u.nick for u in self._users.values() if u.user_class >= oplist_class}

    # ---------------------------------------------------------------- vh reads
    def _store(self, info: UserInfo, vh_nick: str, blind: bool) -> None:
        self._users.put(info)
        self._vh_nicks[info.nick] = vh_nick
        self._flag(info, blind)
        self._changes.mark()

    def _flag(self, info: UserInfo, blind: bool) -> None:
        """Keep the sets a reconciliation checks: hook-blind users, users of operator class."""
        (self.blind.add if blind else self.blind.discard)(info.nick)
        of_op_class = info.user_class >= self._hub.oplist_class
        (self.op_users.add if of_op_class else self.op_users.discard)(info.nick)

    def _read(self, vh_nick: str) -> Optional[Tuple[Fields, bool]]:
        """A user's MyINFO fields and class as ``UserInfo`` fields, and whether the plugin skips
        their hooks (some of their text is not UTF-8, F23). None when vh cannot fetch them."""
        call = self._vh.call
        try:
            myinfo = call("GetMyINFO", vh_nick)
            if not myinfo:
                return None
            user_class = call("GetUserClass", vh_nick)
        except UnicodeError:  # text the hub encoding cannot carry either way (F53, F54)
            return None
        codec = self._codec()
        show = codec.display
        _, desc, tag, speed, email, share = (str(x or "") for x in myinfo)
        user_class = int(user_class) if isinstance(user_class, int) else 0
        texts = (vh_nick, desc, tag, speed, email)
        blind = not codec.identity and any(not t.isascii() and show(t) == t for t in texts)
        return {"description": show(desc), "tag": show(tag), "speed": show(split_speed(speed)),
                "email": show(email), "share": parse_share(share), "user_class": user_class,
                "class_name": class_name(user_class), "is_op": user_class >= OP_CLASS}, blind

    def _fetch(self, vh_nick: str, login_time: Optional[float]) -> Optional[Tuple[UserInfo, bool]]:
        """A whole user from vh (and the ``blind`` flag of ``_read``); None when vh cannot."""
        read = self._read(vh_nick)
        if read is None:
            return None
        fields, blind = read
        try:
            ip = self._vh.call("GetUserIP", vh_nick)
            cc = self._vh.call("GetUserCC", vh_nick)
            host = self._vh.call("GetUserHost", vh_nick) if self._hub.resolves else None
        except UnicodeError:
            return None
        return UserInfo(nick=self._codec().display(vh_nick), ip=ip, host=host or None, country_code=cc,
                        country=self._country(cc, ip), login_time=login_time, **fields), blind

    def _country(self, cc: Optional[str], ip: Optional[str]) -> Optional[str]:
        if not cc or not ip:
            return None
        if cc not in self._countries:
            self._countries[cc] = self._vh.call("GetIPCN", ip)
        return self._countries[cc]
