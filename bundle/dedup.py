"""Single-interpreter mode: turn the plugin's repeated hook calls back into one call per event.

In single mode all scripts share ``__main__``; the hook function defined last survives and the plugin
calls it once per loaded script that had the hook name at its load time (vh-plugin.md F3, A12). With
two vhctl scripts and a third-party one, one chat line arrives as three identical consecutive calls.

Grouping is exact, without knowing how many slots call a hook, because of two facts:
- the plugin makes all calls of one hook for one event back to back, with the same arguments, before
  the hub does anything else (F19);
- the hub calls ``OnParsedMsgAny(nick, raw)`` for every protocol message of a logged-in user BEFORE
  the message's own hooks (F32, A3): chat lines, commands in chat or by PM, MyINFO. Every vhctl script
  defines it (``dispatch.HOOKS``), so its calls pass through here too and mark where a message begins.
So a call repeats the current event exactly when it equals the call just before it at the same
nesting depth: two identical chat lines or commands always have their messages' OnParsedMsgAny
calls between them. The hooks no message precedes separate themselves: OnTimer's argument is the
time to the millisecond (F38, A8), different every tick (the hub's loop sleeps adv_step_delay, 50 ms
by default, between two ticks, F36); OnUserLogin and OnParsedMsgMyINFO follow the OnParsedMsgAny of
their MyINFO; a nick's OnUserLogout never follows another one without a login between; OnUnLoad
comes once.
Still merged, as no call tells them apart: the same message twice in a row when it causes no other
hook of ours (e.g. ``$GetNickList``: nothing of ours runs for it, only a chained third-party
OnParsedMsgAny, see ``hookguard``, sees it once), and identical events that a vh call fires twice
inside one hook call (a script calling ``vh.ParseCommand`` twice with the same text, F49.38).

Nesting: a hook can fire inside another one (e.g. OnSetConfig inside a vh.SetConfig call); each
depth keeps its own current event.
"""

from __future__ import annotations

from typing import Any, List

#: One event per nesting depth: [the call (hook, args), how it was answered].
Event = List[Any]


class EventDeduper:
    """The grouping's state: per nesting depth, the current event and how it was answered.

    The steps themselves are in ``HookDispatcher._single``, the one place that runs them: it is on
    the hub thread at every hook call of every script slot, so they are done inline there rather
    than through methods here. A call repeats the current event at its depth when it equals that
    event's call; otherwise it replaces it and the deeper events are dropped (they belonged to the
    previous event)."""

    def __init__(self) -> None:
        #: per nesting depth: the current event; an entry is reused, never replaced, at its depth
        self.events: List[Event] = []
        #: how many hook calls are running, one inside the other, right now
        self.depth = 0
