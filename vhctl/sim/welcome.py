"""The texts the hub-security bot writes to one user: the login banner (A1, A15), the MOTD sent at
every login, the "Your information" block, and ``!help`` as one message per class section (A16).

Only the bytes the real hub was seen to send are fixed; where the observation stops ("...") the
wording below is the simulator's own, in the hub's layout (``\\r\\n`` inside one message).
"""

from __future__ import annotations

import time

from vhctl.sim import nmdc
from vhctl.sim.model import User
from vhctl.sim.state import HubState

#: Used when ``<basedir>/motd`` does not exist: the start of the stock MOTD (A15).
DEFAULT_MOTD = (" Welcome to Verlihub\r\n\r\n"
                "\t+help\t\t- Available commands\r\n"
                "\t+myinfo\t\t- Your information\r\n")

#: (class, section title, that class's own commands), highest class first (A16).
HELP_SECTIONS: tuple[tuple[int, str, str], ...] = (
    (10, "Master", " [*] Update check:\r\n\r\n\t!update\t\t\t- Check for a new hub version\r\n\r\n"
                   " [*] Hub control:\r\n\r\n\t!quit\t\t\t- Stop the hub\r\n"),
    (5, "Administrator", " [*] Configuration:\r\n\r\n\t!set <var> <value>\t- Change a variable\r\n"),
    (4, "Cheef", " [*] Registration:\r\n\r\n\t!regnew <nick> <class>\t- Register a user\r\n"),
    (3, "Operator", " [*] Moderation:\r\n\r\n\t!kick <nick> <reason>\t- Kick a user\r\n"
                    "\t!topic <text>\t\t- Set the hub topic\r\n"),
    (2, "VIP user", " [*] Chat:\r\n\r\n\t!me <text>\t\t- Say something in third person\r\n"),
    (1, "Registered user", " [*] Account:\r\n\r\n\t!passwd <password>\t- Change your password\r\n"),
    (0, "Regular user", " [*] Information:\r\n\r\n\t!help\t\t\t- This list\r\n"
                        "\t!myinfo\t\t\t- Your information\r\n"),
)


def format_period(ms: int) -> str:
    """A duration as cTime::AsPeriod words it (A16, A17): at most two units, the largest first,
    zero units left out, ``msecs`` only while fewer than two units were written:
    ``4 secs 206 msecs``, ``2 mins 11 secs``, ``29 mins 25 secs``, ``0 msecs``."""
    seconds, msecs = divmod(max(0, int(ms)), 1000)
    units = ((604800, "week", "weeks"), (86400, "day", "days"), (3600, "hour", "hours"),
             (60, "min", "mins"), (1, "sec", "secs"))
    words: list[str] = []
    for size, one, many in units:
        count, seconds = divmod(seconds, size)
        if count and len(words) < 2:
            words.append(f"{count} {one if count == 1 else many}")
    if len(words) < 2:
        words.append(f"{msecs} {'msec' if msecs == 1 else 'msecs'}")
    return " ".join(words)


def banner(state: HubState, user: User) -> list[str]:
    """The messages after a login, in order (A15): welcome lines, the MOTD, the information block."""
    lines = [f"Software: Verlihub {state.config['hub_version']}",
             f"Uptime: {format_period(int((time.time() - state.started_at) * 1000))}",
             f"Users: {state.users_count}", f"Share: {nmdc.format_bytes(state.total_share)}",
             "Status: Normal"]
    return [*lines, motd(state), information(state, user)]


def motd(state: HubState) -> str:
    """``MOTD:`` and the motd file of the config dir (line ends as ``\\r\\n``), sent at every login."""
    path = state.basedir / "motd"
    text = (path.read_bytes().decode("latin-1").replace("\r\n", "\n").replace("\n", "\r\n")
            if path.is_file() else DEFAULT_MOTD)
    return f"MOTD:\r\n\r\n{text}"


def information(state: HubState, user: User) -> str:
    """The "Your information" block, fields in the order the real hub lists them (A15)."""
    conn = user.conn
    reg = state.reg.get(user.nick)
    fields = [("Nick", user.nick), ("IP", user.ip),
              ("Country", f"{user.cc or ''}={state.geo.country(user.ip) or ''}"), ("City", ""),
              ("Hub TLS", "No"), ("Client TLS", "No"), ("Client NAT", "No"),
              ("Class", str(user.cls)), ("Registered on", "Yes" if reg is not None else "No"),
              ("Host", (conn.host if conn is not None else "") or ""),
              ("Share", nmdc.format_bytes(user.share))]
    body = "".join(f" [*] {name}: {value}\r\n" for name, value in fields)
    return f"Your information:\r\n\r\n{body}"


def help_messages(cls: int) -> list[str]:
    """``!help``: one message per class section the user's class reaches, highest first (A16)."""
    return [f"[*] {title} with class {level}:\r\n\r\n{text}"
            for level, title, text in HELP_SECTIONS if level <= cls]
