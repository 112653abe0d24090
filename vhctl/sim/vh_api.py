"""The ``vh`` module every script imports, as the real wrapper builds it (F14, F44-F58, A5, A6).

Each function does what wrapper.cpp does before and after the hub callback: positional argument
parsing with the wrapper's exact messages (F44), UTF-8 <-> ``hub_encoding`` conversion (F53, F54),
result shaping (F45: bool, str or None, int), and the signature-mismatch bugs that make some
functions useless (F46: ``mc``, ``classmc``, ``GetRaw*List``, ``SQL``, ``ScriptCommand``,
``name_and_version``, ``StopHub``, ``GetServFreq``, one-argument ``GetGeoIP``, ``SetConfig``'s
result). The hub work itself is done by the hub's primitives. Two callbacks crash the real hub
when handed a NULL string (A13 ``KickUser``; ``usermc`` with no nick, per source); the simulator
records a fatal violation and crashes the simulated hub.

Simulator rule (F58, engineering): every ``vh`` callable checks that it runs on the hub thread and
raises ``VhThreadViolation`` otherwise, after recording the violation with the caller's stack.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from types import ModuleType
from typing import Any, Callable, Optional, Protocol

from vhctl.sim.guard import CRASH, OUTSIDE_HOOK, THREAD, Histogram, VhThreadViolation, Violations
from vhctl.sim.slot import Slot
from vhctl.sim.vh_text import HubText, decode, encode, pyarg_str, raw_utf8

MODULE_DOC = "Verlihub C++ callback interface - Python 3"

# F14 / A5: the constants of every vh module (sequential eBF_* values, no eCR_PLUGIN, no eIT_*).
_CR_NAMES = ("DEFAULT", "INVALID_USER", "KICKED", "FORCEMOVE", "QUIT", "HUB_LOAD", "TIMEOUT",
             "TO_ANYACTION", "USERLIMIT", "SHARE_LIMIT", "TAG_NONE", "TAG_INVALID", "PASSWORD",
             "LOGIN_ERR", "SYNTAX", "INVALID_KEY", "RECONNECT", "CLONE", "SELF", "BADNICK",
             "NOREDIR")
_BOT_NAMES = ("OK", "EXISTS", "WITHOUT_NICK", "BAD_CHARS", "RESERVED_NICK", "API_ERROR")
_BF_NAMES = ("NICKIP", "IP", "NICK", "RANGE", "HOST1", "HOST2", "HOST3", "SHARE", "PREFIX",
             "HOSTR1")
CONSTANTS: dict[str, int] = {
    **{f"eCR_{n}": i for i, n in enumerate(_CR_NAMES)},
    **{f"eBOT_{n}": i for i, n in enumerate(_BOT_NAMES)},
    **{f"eBF_{n}": i for i, n in enumerate(_BF_NAMES)},
}
ATTRIBUTES = ("myid", "botname", "opchatname", "name", "path", "config_name", "basedir")

_NULL_STRING_CRASH = ("terminate called after throwing an instance of 'std::logic_error'\n"
                    "  what():  basic_string: construction from null is not valid")


def _parse_format(fmt: str) -> tuple[int, str]:
    """'ss|l' -> (2, 'ssl'): required count and the types, as vh_ParseArgs reads them."""
    types = fmt.replace("|", "")
    return (fmt.index("|") if "|" in fmt else len(types)), types


# Result kinds.
BOOL, STR, LONG, RAW = "bool", "str", "long", "raw"


class ApiHost(Protocol):
    """What the vh module needs of the plugin (``vhctl.sim.plugin.Plugin`` is one): the hub, the
    bookkeeping every call feeds, whether Python is running a hook or a load now, the live slot
    ids, and the way the hub dies."""

    hub: Any
    vh_calls: collections.Counter[str]
    violations: Violations
    in_python: int

    def has_slot_id(self, sid: int) -> bool: ...

    def crash(self, reason: str) -> None: ...


class VhApi:
    """Builds the vh modules of one plugin; all of them share these function objects."""

    def __init__(self, plugin: ApiHost) -> None:
        self._plugin = plugin
        self._hub = plugin.hub
        self.text = HubText(lambda: plugin.hub.state.get_config("config", "hub_encoding"))
        self.calls = plugin.vh_calls
        self.blocking: dict[str, Histogram] = {}
        self._functions = self._build_functions()

    # --- module --------------------------------------------------------------------------------

    def make_module(self, slot: Slot) -> ModuleType:
        """A fresh vh module for one script slot (wrapper.cpp vh_CreateModule)."""
        hub = self._hub
        module = ModuleType("vh", MODULE_DOC)
        module.__dict__.update(self._functions)
        module.__dict__.update({
            "myid": slot.id,
            "botname": raw_utf8(hub.state.security_nick),
            "opchatname": raw_utf8(hub.state.opchat_nick),
            "name": slot.name,
            "path": raw_utf8(slot.path),
            "config_name": raw_utf8(hub.state.config_name),
            "basedir": str(hub.state.basedir),
        })
        module.__dict__.update(CONSTANTS)
        return module

    # --- the prologue every vh callable runs -----------------------------------------------------

    def _enter(self, name: str) -> None:
        """Thread rule first (F58), then the bookkeeping."""
        plugin = self._plugin
        if threading.get_ident() != self._hub.main_thread_id:
            thread = threading.current_thread().name
            plugin.violations.record(THREAD, f"vh.{name}",
                                     detail=f"vh.{name}() called from thread {thread!r}")
            raise VhThreadViolation(
                f"vh.{name}() called from thread {thread!r}: vh functions may only run on the hub "
                "thread, inside a hook or while the script loads. Hand the work to a hook "
                "(e.g. OnTimer) through a queue instead.")
        if not plugin.in_python:
            plugin.violations.record(OUTSIDE_HOOK, f"vh.{name}",
                                     detail="vh called on the hub thread outside any hook or load")
        self.calls[name] += 1

    def _script_id(self) -> int:
        """wrapper.cpp vh_GetScriptID: sys.modules['vh'].myid must name a live slot (F3)."""
        module = sys.modules.get("vh")
        sid = getattr(module, "myid", None)
        if isinstance(sid, int) and self._plugin.has_slot_id(sid):
            return sid
        raise RuntimeError("Could not determine script ID")

    def _parse(self, required: int, types: str, args: tuple) -> list[Any]:
        """vh_ParseArgs: counts, then each value; optional ones become NULL/0."""
        given = len(args)
        if given < required:
            raise TypeError(f"Function requires at least {required} arguments, got {given}")
        if given > len(types):
            raise TypeError(f"Function takes at most {len(types)} arguments, got {given}")
        values: list[Any] = []
        for i, kind in enumerate(types):
            value = args[i] if i < given else None
            if kind == "l":
                if value is None:
                    value = 0
                elif isinstance(value, int):
                    value = int(value)
                else:
                    raise TypeError(f"Argument {i} must be int, not {type(value).__name__}")
            elif value is not None:
                if not isinstance(value, str):
                    raise TypeError(f"Argument {i} must be str, not {type(value).__name__}")
                value = self.text.to_hub(value)
            values.append(value)
        return values

    def _result(self, kind: str, value: Any) -> Any:
        if kind == BOOL:
            return bool(value)
        if kind == STR:
            return self.text.from_hub(value) if value else None
        if kind == LONG:
            return None if value is None else int(value)
        return value

    def _wrap(self, name: str, fmt: str, kind: str, impl: Callable[..., Any]) -> Callable[..., Any]:
        """A vh function that parses like vh_ParseArgs and shapes the result like vh_Call*."""
        required, types = _parse_format(fmt)
        enter, script_id, parse, result = self._enter, self._script_id, self._parse, self._result

        def vh_function(*args: Any, **kwargs: Any) -> Any:
            enter(name)
            if kwargs:
                raise TypeError(f"{name}() takes no keyword arguments")
            script_id()
            return result(kind, impl(*parse(required, types, args)))

        vh_function.__name__ = vh_function.__qualname__ = name
        return vh_function

    def _unparsed(self, name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
        """A vh function that does its own argument handling (no script id needed, F3)."""
        enter = self._enter

        def vh_function(*args: Any, **kwargs: Any) -> Any:
            enter(name)
            return impl(*args, **kwargs)

        vh_function.__name__ = vh_function.__qualname__ = name
        return vh_function

    # --- helpers for the C side ------------------------------------------------------------------

    def _mismatch(self, stored: str, wanted: str) -> None:
        """The wrapper's complaint when a callback's format does not match (A5, A6)."""
        self._hub.stderr(f"PY: unpack: format strings don't match: '{stored}' vs. '{wanted}'")

    def _broken(self, stored: str, wanted: str, value: Any) -> Callable[..., Any]:
        """A function whose Python and C sides disagree: nothing reaches the hub (F46)."""
        def impl(*_args: Any) -> Any:
            self._mismatch(stored, wanted)
            return value
        return impl

    def _crash(self, function: str, reason: str, detail: str) -> None:
        """Fatal: record, then let the simulated hub die like the real one (A13)."""
        self._plugin.violations.record(CRASH, f"vh.{function}", fatal=True, detail=detail)
        self._plugin.crash(reason)

    def _decode_list(self, nicks: list[str]) -> list[str]:
        """F54: one undecodable nick drops the whole list."""
        try:
            return [self.text.from_hub(n) for n in nicks]
        except UnicodeDecodeError:
            return []

    # --- implementations needing more than one hub call -------------------------------------------

    def _get_myinfo(self, nick: Optional[str]) -> Optional[tuple[str, ...]]:
        parts = None if nick is None else self._hub.state.get_myinfo(nick)
        if parts is None:
            return None
        return tuple(self.text.from_hub(p) if p else "" for p in parts)

    def _get_user_host(self, nick: Optional[str]) -> Optional[str]:
        """F49.19: with the hub's dns_lookup off, a blocking reverse lookup on the hub thread, every
        call; with it on, the host resolved when the user connected (script_api GetUserHost)."""
        if nick is None:
            return None
        hub = self._hub
        lookup = not hub.state.dns_lookup
        host = hub.state.user_host(nick, lookup)
        if lookup and host is not None:  # a connected user: the lookup blocked the hub thread
            started = time.perf_counter_ns()
            time.sleep(hub.dns_delay)
            self.blocking.setdefault("GetUserHost", Histogram()).add(
                time.perf_counter_ns() - started)
        return host

    def _get_config(self, conf: Optional[str], var: Optional[str],
                    default: Optional[str]) -> Optional[str]:
        if conf is None or var is None:
            return None
        value = self._hub.state.get_config(conf, var)
        return default if value is None else value

    def _set_config(self, conf: Optional[str], var: Optional[str], value: Optional[str]) -> bool:
        """F49.40: the change happens (OnSetConfig may veto), the result is always False."""
        if conf is not None and var is not None and value is not None:
            self._hub.roster.set_config(conf, var, value)
        return False

    def _kick_user(self, op: Optional[str], nick: Optional[str], why: Optional[str],
                   addr: Optional[str], note_op: Optional[str], note_usr: Optional[str]) -> bool:
        """F49.35 / A13: NULL strings reach std::string constructors and kill the hub."""
        hub = self._hub
        if op is None or nick is None or hub.state.user_class(op) == -2:
            return False
        if addr and hub.state.is_robot(op):
            self._crash("KickUser", "Segmentation fault",
                        "KickUser with a redirect and a bot as operator dereferences a NULL "
                        "connection")  # F49.35
        if why is None or note_op is None or note_usr is None:
            self._crash("KickUser", _NULL_STRING_CRASH,
                        "KickUser needs all six arguments as str (op, nick, reason, redirect, "
                        "op_note, user_note); a missing or None one crashes the real hub")  # A13
        return hub.moderation.kick_user(op, nick, why, addr, note_op, note_usr)

    def _usermc(self, message: Optional[str], nick: Optional[str],
                from_nick: Optional[str]) -> bool:
        if message is None:
            return False
        if nick is None:
            self._crash("usermc", _NULL_STRING_CRASH,
                        "usermc(message, None): the callback builds a std::string from the NULL "
                        "nick (per source, wrapper _usermc)")
        return self._hub.sender.usermc(message, nick, from_nick)

    def _topic(self, new: Optional[str]) -> str:
        return self._hub.roster.topic(new if new is not None and len(new) < 1024 else None)

    def _add_robot(self, nick: Optional[str], cls: int, desc: Optional[str], speed: Optional[str],
                   email: Optional[str], share: Optional[str]) -> bool:
        if not nick or None in (desc, speed, email, share):
            return False
        return self._hub.roster.add_robot(nick, cls, desc, speed, email, share)

    # --- functions with CPython's own argument parsing -------------------------------------------

    def _get_geoip(self, *args: Any, **kwargs: Any) -> Optional[dict]:
        """F49.30: PyArg 's|s'; with one argument the callback never matches (A5)."""
        if kwargs:
            raise TypeError("GetGeoIP() takes no keyword arguments")
        if not 1 <= len(args) <= 2:
            bound = "at least" if not args else "at most"
            raise TypeError(f"function takes {bound} {1 if not args else 2} argument"
                            f"{'' if not args else 's'} ({len(args)} given)")
        ip = self.text.to_hub(pyarg_str(args[0], "argument 1"))
        if len(args) == 1:
            self._mismatch("s", "ss")
            return None
        pyarg_str(args[1], "argument 2")
        record = self._hub.state.geoip(ip)
        if record is None:
            return None
        return {k: self.text.from_hub(v) if isinstance(v, str) else v for k, v in record.items()}

    def _user_restrictions(self, *args: Any, **kwargs: Any) -> bool:
        """F49.53: PyArg_ParseTupleAndKeywords 's|ssss' (keywords allowed, None is not)."""
        names = ("nick", "nochat", "nopm", "nosearch", "noctm")
        if len(args) > len(names):
            raise TypeError(f"function takes at most {len(names)} arguments ({len(args)} given)")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"'{key}' is an invalid keyword argument for this function")
            if key in values:
                raise TypeError(f"argument for function given by name ('{key}') and position "
                                f"({names.index(key) + 1})")
            values[key] = value
        if "nick" not in values:
            raise TypeError("function missing required argument 'nick' (pos 1)")
        hub_values = []
        for position, key in enumerate(names, 1):
            where = f"argument {position}" if position <= len(args) else f"argument '{key}'"
            hub_values.append(self.text.to_hub(pyarg_str(values.get(key, ""), where)))
        if not hub_values[0]:
            return False
        return bool(self._hub.moderation.user_restrictions(*hub_values))

    def _call_dynamic_function(self, *args: Any, **kwargs: Any) -> Any:
        """F49.59: nothing registers dynamic functions in the simulator."""
        if kwargs:
            raise TypeError("CallDynamicFunction() takes no keyword arguments")
        if not args:
            raise TypeError("CallDynamicFunction requires at least function name")
        if not isinstance(args[0], str):
            raise TypeError("First argument must be function name (string)")
        sid = self._script_id()
        raise RuntimeError(f"No dynamic functions registered for script {sid}")

    def _list(self, name: str, source: Callable[[], list[str]]) -> Callable[..., list[str]]:
        """GetNickList & co: positional arguments are ignored, JSON list from the hub (F49.13)."""
        def impl(*_args: Any, **kwargs: Any) -> list[str]:
            if kwargs:
                raise TypeError(f"{name}() takes no keyword arguments")
            return self._decode_list(source())
        return self._unparsed(name, impl)

    # --- the table (wrapper.cpp's method table, in its order) ------------------------------------

    def _build_functions(self) -> dict[str, Callable[..., Any]]:
        hub = self._hub
        state, sender, moderation, roster = hub.state, hub.sender, hub.moderation, hub.roster
        wrap = self._wrap

        def nn(fn: Callable[..., Any], *required: int) -> Callable[..., Any]:
            """The callback returns NULL when one of these string arguments is NULL."""
            def impl(*values: Any) -> Any:
                if any(values[i] is None for i in required):
                    return None
                return fn(*values)
            return impl

        def text(value: Optional[str]) -> str:
            return "" if value is None else value

        table: list[tuple[str, Callable[..., Any]]] = [
            ("SendToOpChat", wrap("SendToOpChat", "s|s", BOOL, nn(sender.send_to_opchat, 0))),
            ("SendToActive", wrap("SendToActive", "s|l", BOOL,
                                  nn(lambda d, delay: sender.send_to_active(d, 0, 10, delay), 0))),
            ("SendToPassive", wrap("SendToPassive", "s|l", BOOL,
                                   nn(lambda d, delay: sender.send_to_passive(d, 0, 10, delay),
                                      0))),
            ("SendToActiveClass", wrap("SendToActiveClass", "sll|l", BOOL,
                                       nn(sender.send_to_active, 0))),
            ("SendToPassiveClass", wrap("SendToPassiveClass", "sll|l", BOOL,
                                        nn(sender.send_to_passive, 0))),
            ("SendDataToUser", wrap("SendDataToUser", "ss|l", BOOL, nn(sender.send_to_user, 0, 1))),
            ("SendDataToAll", wrap("SendDataToAll", "sll|l", BOOL, nn(sender.send_to_all, 0))),
            ("SendPMToAll", wrap("SendPMToAll", "ssll", BOOL, nn(sender.send_pm_to_all, 0, 1))),
            ("CloseConnection", wrap("CloseConnection", "s|ll", BOOL,
                                     nn(hub.connections.close_by_nick, 0))),
            ("GetMyINFO", wrap("GetMyINFO", "s", RAW, self._get_myinfo)),
            ("SetMyINFO", wrap("SetMyINFO", "s|sssss", BOOL, nn(roster.set_myinfo, 0))),
            ("GetUserClass", wrap("GetUserClass", "s", LONG, nn(state.user_class, 0))),
            ("GetNickList", self._list("GetNickList", state.nick_list)),
            ("GetOpList", self._list("GetOpList", state.op_list)),
            ("GetBotList", self._list("GetBotList", state.bot_list)),
            ("GetRawNickList", wrap("GetRawNickList", "", STR, self._broken("D", "s", None))),
            ("GetRawOpList", wrap("GetRawOpList", "", STR, self._broken("D", "s", None))),
            ("GetRawBotList", wrap("GetRawBotList", "", STR, self._broken("D", "s", None))),
            ("GetUserHost", wrap("GetUserHost", "s", STR, self._get_user_host)),
            ("GetUserIP", wrap("GetUserIP", "s", STR, nn(state.user_ip, 0))),
            ("SetUserIP", wrap("SetUserIP", "ss", BOOL, nn(state.set_user_ip, 0, 1))),
            ("SetMyINFOFlag", wrap("SetMyINFOFlag", "sl", BOOL,
                                   nn(lambda n, f: f >= 1 and roster.set_myinfo_flag(n, f), 0))),
            ("UnsetMyINFOFlag", wrap("UnsetMyINFOFlag", "sl", BOOL,
                                     nn(lambda n, f: f >= 1 and roster.unset_myinfo_flag(n, f),
                                        0))),
            ("GetUserHubURL", wrap("GetUserHubURL", "s", STR, nn(state.user_hub_url, 0))),
            ("GetUserExtJSON", wrap("GetUserExtJSON", "s", STR, nn(state.user_ext_json, 0))),
            ("GetUserCC", wrap("GetUserCC", "s", STR, nn(state.user_cc, 0))),
            ("GetIPCC", wrap("GetIPCC", "s", STR, nn(state.ip_cc, 0))),
            ("GetIPCN", wrap("GetIPCN", "s", STR, nn(state.ip_cn, 0))),
            ("GetIPASN", wrap("GetIPASN", "s|s", STR, nn(lambda ip, _db: state.ip_asn(ip), 0))),
            ("GetGeoIP", self._unparsed("GetGeoIP", self._get_geoip)),
            ("AddRegUser", wrap("AddRegUser", "sl|ss", BOOL,
                                nn(lambda n, c, p, o: bool(n) and roster.add_reg_user(n, c, text(p),
                                                                                    text(o)), 0))),
            ("DelRegUser", wrap("DelRegUser", "s", BOOL,
                                nn(lambda n: bool(n) and state.del_reg_user(n), 0))),
            ("SetRegClass", wrap("SetRegClass", "sl", BOOL,
                                 nn(lambda n, c: bool(n) and state.set_reg_class(n, c), 0))),
            ("Ban", wrap("Ban", "sssll", BOOL,
                         nn(lambda o, n, r, s, t: moderation.ban(o, n, text(r), s, t), 0, 1))),
            ("KickUser", wrap("KickUser", "sss|sss", BOOL, self._kick_user)),
            ("DelNickTempBan", wrap("DelNickTempBan", "s", BOOL,
                                    nn(moderation.del_nick_temp_ban, 0))),
            ("DelIPTempBan", wrap("DelIPTempBan", "s", BOOL, nn(moderation.del_ip_temp_ban, 0))),
            ("ParseCommand", wrap("ParseCommand", "ssl", BOOL,
                                  nn(hub.commands.parse_for_script, 0, 1))),
            ("ScriptCommand", wrap("ScriptCommand", "sss", STR, self._broken("sss", "ssl", None))),
            ("SetConfig", wrap("SetConfig", "sss", BOOL, self._set_config)),
            ("GetConfig", wrap("GetConfig", "ss|s", STR, self._get_config)),
            ("IsRobotNickBad", wrap("IsRobotNickBad", "s", LONG,
                                    lambda n: 2 if n is None else state.robot_nick_bad(n))),
            ("AddRobot", wrap("AddRobot", "slssss", BOOL, self._add_robot)),
            ("DelRobot", wrap("DelRobot", "s", BOOL,
                              nn(lambda n: bool(n) and roster.del_robot(n), 0))),
            ("SQL", wrap("SQL", "sl", STR, lambda _query, _limit: None)),
            ("GetServFreq", wrap("GetServFreq", "", LONG, self._broken("d", "l", 0))),
            ("GetUsersCount", wrap("GetUsersCount", "", LONG, lambda: state.users_count)),
            ("GetTotalShareSize", wrap("GetTotalShareSize", "", STR,
                                       lambda: str(state.total_share))),
            ("usermc", wrap("usermc", "ss|s", BOOL, self._usermc)),
            ("pm", wrap("pm", "ss|ss", BOOL, nn(sender.pm, 0, 1))),
            ("mc", wrap("mc", "s", BOOL, self._broken("s", "ss", None))),
            ("classmc", wrap("classmc", "sll", BOOL, self._broken("sll", "slls", None))),
            ("UserRestrictions", self._unparsed("UserRestrictions", self._user_restrictions)),
            ("Topic", wrap("Topic", "|s", STR, self._topic)),
            ("name_and_version", wrap("name_and_version", "", STR, self._broken("", "ss", None))),
            ("StopHub", wrap("StopHub", "l", BOOL, self._broken("l", "ll", None))),
            ("Encode", self._unparsed("Encode", encode)),
            ("Decode", self._unparsed("Decode", decode)),
            ("CallDynamicFunction", self._unparsed("CallDynamicFunction",
                                                   self._call_dynamic_function)),
        ]
        return dict(table)
