"""JSON bodies of the API, rendered once per hub snapshot and shared by every request.

Why: the API threads share the GIL with the hub thread. Whatever an HTTP request costs in Python is
time the hub may wait for. So the bodies are built per *snapshot* (the hub thread publishes a new one
only when something changed), not per request, and never with one big ``json.dumps`` over thousands of
users (a C call that holds the GIL for its whole duration): each user is serialized once per distinct
``UserInfo`` object (they are immutable and survive from one snapshot to the next while unchanged) and
pages are joined from those pieces. A request then costs a dict lookup, a slice and a ``bytes.join`` of
at most ``limit`` pieces, whatever the number of users online.

Everything here runs on the API's event-loop thread only (one thread: no locks); nothing touches vh.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from vhctl_hub.snapshot import HubSnapshot, UserInfo

#: Fields a client sees only with the API token (null otherwise).
PRIVATE_FIELDS = ("ip", "host", "email")
_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: Rendered bodies kept per snapshot (pages of /api/users, single users...).
_MEMO_SIZE = 256

Body = Tuple[bytes, str]  # (JSON bytes, ETag)


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON; a lone surrogate in hub text becomes "?" instead of a 500."""
    return _ENCODER.encode(data).encode("utf-8", "replace")


def format_size(size: int) -> str:
    """Bytes in 1024 steps with two decimals, as the seed showed them ("10.35 GB")."""
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def iso_utc(timestamp: Optional[float]) -> Optional[str]:
    """ISO 8601 with an explicit UTC offset (the seed's naive local times were ambiguous)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")


def etag_of(body: bytes) -> str:
    """A strong ETag from the content, so 304s are exact whatever changed elsewhere in the hub."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def user_fields(user: Mapping[str, Any], private: bool) -> Dict[str, Any]:
    """The API shape of a user from ``UserInfo.to_dict()`` data (also what the event feed carries).

    Field names are the seed's (``class``, ``share``, ``share_formatted`` ...) plus a few new ones.
    """
    share = int(user.get("share") or 0)
    return {
        "nick": user.get("nick"), "class": user.get("user_class"), "class_name": user.get("class_name"),
        "ip": user.get("ip") if private else None, "host": user.get("host") if private else None,
        "country_code": user.get("country_code"), "country": user.get("country"),
        "description": user.get("description"), "tag": user.get("tag"), "speed": user.get("speed"),
        "email": user.get("email") if private else None, "share": share,
        "share_formatted": format_size(share),
        "is_op": bool(user.get("is_op")), "login_time": iso_utc(user.get("login_time")),
    }


class UserJson:
    """Serialized users, kept per ``UserInfo`` object (public and private variants)."""

    def __init__(self) -> None:
        self._cache: Dict[int, List[Any]] = {}  # id(user) -> [user, public bytes, private bytes]

    def get(self, user: UserInfo, private: bool) -> bytes:
        """The JSON object of ``user``; serialized at most once per object and variant."""
        entry = self._cache.get(id(user))
        if entry is None or entry[0] is not user:
            entry = [user, None, None]
            self._cache[id(user)] = entry
        index = 2 if private else 1
        if entry[index] is None:
            entry[index] = dumps(user_fields(user.to_dict(), private))
        return entry[index]

    def __len__(self) -> int:
        """How many users' bytes are kept: what ``prune`` bounds."""
        return len(self._cache)

    def prune(self, live: Mapping[str, UserInfo]) -> None:
        """Forget users no longer in ``live`` once the cache has grown well beyond it."""
        if len(self) > 2 * len(live) + 64:
            self._cache = {id(u): e for u in live.values() for e in [self._cache.get(id(u))]
                           if e is not None and e[0] is u}


class SnapshotView:
    """The bodies of one snapshot; built lazily, memoized until the next snapshot."""

    def __init__(self, snapshot: HubSnapshot, users_json: UserJson) -> None:
        self.snapshot = snapshot
        self._json = users_json
        self._users: Optional[Tuple[UserInfo, ...]] = None
        self._memo: Dict[Tuple[Any, ...], Body] = {}
        self._stats_tail: Optional[bytes] = None

    @property
    def users(self) -> Tuple[UserInfo, ...]:
        """Listed users in the cache's order (login order; users online before we loaded first)."""
        if self._users is None:
            self._users = tuple(self.snapshot.users.values())
        return self._users

    def _memoized(self, key: Tuple[Any, ...], build: Callable[[], bytes]) -> Body:
        found = self._memo.get(key)
        if found is None:
            body = build()
            found = (body, etag_of(body))
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
        return found

    # ---------------------------------------------------------------- bodies
    def users_page(self, offset: int, limit: int, private: bool) -> Body:
        """``{count, total, offset, limit, next_offset, users}``; ``limit`` already capped."""
        return self._memoized(("users", offset, limit, private), lambda: self._page(offset, limit, private))

    def _page(self, offset: int, limit: int, private: bool) -> bytes:
        users = self.users
        page = users[offset:offset + limit]
        end = offset + len(page)
        head = dumps({"count": len(page), "total": len(users), "offset": offset, "limit": limit,
                      # null unless it moves on: a client following it with limit=0 must not loop forever
                      "next_offset": end if page and end < len(users) else None})
        get = self._json.get
        return b"".join((head[:-1], b',"users":[', b",".join([get(u, private) for u in page]), b"]}"))

    def user(self, nick: str, private: bool) -> Optional[Body]:
        """One user by exact nick, None when not online."""
        user = self.snapshot.users.get(nick)
        if user is None:
            return None
        return self._memoized(("user", nick, private), lambda: self._json.get(user, private))

    def hub(self) -> Body:
        snap = self.snapshot
        return self._memoized(("hub",), lambda: dumps({
            "name": snap.hub_name, "description": snap.hub_desc, "topic": snap.hub_topic,
            "max_users": snap.max_users, "version": snap.version, "snapshot_at": iso_utc(snap.taken_at)}))

    def stats(self, now: float, cache_age: float) -> bytes:
        """The one body with per-request fields (``timestamp``, ``cache_age``); the rest is cached."""
        if self._stats_tail is None:
            snap = self.snapshot
            self._stats_tail = dumps({
                "users_online": snap.users_online, "max_users": snap.max_users,
                "total_share": format_size(snap.total_share), "total_share_bytes": snap.total_share,
                "hub_name": snap.hub_name, "listed_users": len(snap.users), "bots": len(snap.bots),
                "snapshot_at": iso_utc(snap.taken_at), "complete": snap.complete})[1:]
        head = dumps({"timestamp": iso_utc(now), "cache_age": round(max(0.0, cache_age), 3)})
        return head[:-1] + b"," + self._stats_tail

    def share(self) -> Body:
        def build() -> bytes:
            snap = self.snapshot
            listed = sum(u.share for u in self.users)
            average = snap.total_share // snap.users_online if snap.users_online > 0 else 0
            return dumps({"total": snap.total_share, "total_formatted": format_size(snap.total_share),
                          "average": average, "average_formatted": format_size(average),
                          "users_online": snap.users_online, "listed_users_total": listed,
                          "listed_users_total_formatted": format_size(listed)})
        return self._memoized(("share",), build)

    def geo(self) -> Body:
        def build() -> bytes:
            counts = Counter(u.country_code for u in self.users)
            names: Dict[str, Optional[str]] = {}
            for user in self.users:
                if user.country_code and user.country_code not in names:
                    names[user.country_code] = user.country
            unknown = counts.pop(None, 0) + counts.pop("", 0)
            rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            return dumps({"total_countries": len(rows), "unknown": unknown, "distribution": [
                {"country_code": code, "country": names.get(code), "users": n} for code, n in rows]})
        return self._memoized(("geo",), build)

    def ops(self, private: bool) -> Body:
        def build() -> bytes:
            snap = self.snapshot
            bots = set(snap.bots)
            users = [snap.users[n] for n in snap.ops if n in snap.users]
            op_bots = [n for n in snap.ops if n in bots]
            head = dumps({"count": len(users), "bots": op_bots})
            return b"".join((head[:-1], b',"ops":[', b",".join([self._json.get(u, private) for u in users]),
                             b"]}"))
        return self._memoized(("ops", private), build)

    def bots(self) -> Body:
        snap = self.snapshot
        ops = set(snap.ops)
        return self._memoized(("bots",), lambda: dumps({"count": len(snap.bots), "bots": [
            {"nick": n, "op": n in ops} for n in snap.bots]}))


class Views:
    """The view of the newest snapshot; a new snapshot object means a new view."""

    def __init__(self, source: Callable[[], HubSnapshot]) -> None:
        self._source = source
        self._json = UserJson()
        self._view: Optional[SnapshotView] = None

    def current(self) -> SnapshotView:
        snapshot = self._source()
        view = self._view
        if view is None or view.snapshot is not snapshot:
            self._json.prune(snapshot.users)
            view = self._view = SnapshotView(snapshot, self._json)
        return view
