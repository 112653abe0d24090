# The part every vhctl hub script shares (templates/_shared_loader.py): check the venv, import the
# runtime, register this script's component, define the hooks.
import os
import sys

VENV = "@venv@"
SITE_PACKAGES = "@site_packages@"
PYTHON = "@python@"  # the venv's Python X.Y; it must be the one the plugin embeds (F1)
CONFIG_FILE = "@config_file@"
COMPONENT = "@component@"


def _cannot_load(line):
    """Fail this load with ONE line in the hub log: the hook that prints tracebacks is replaced for
    this one error only, and puts itself back when it has printed it."""
    error = ImportError("vhctl: " + line)
    previous = sys.excepthook

    def one_line(kind, value, tb):
        sys.excepthook = previous
        if value is error:
            sys.stderr.write("vhctl: %s\n" % line)
        else:
            previous(kind, value, tb)

    sys.excepthook = one_line
    raise error from None


RUNNING = "%d.%d" % sys.version_info[:2]
if not os.path.isdir(SITE_PACKAGES):
    _cannot_load("the hub venv %s is missing; run: vhctl install" % VENV)
if RUNNING != PYTHON:
    _cannot_load("the hub venv %s is for Python %s but the plugin runs Python %s; run: vhctl install"
                 % (VENV, PYTHON, RUNNING))
if SITE_PACKAGES not in sys.path:
    sys.path.insert(0, SITE_PACKAGES)
import site  # noqa: E402
site.addsitedir(SITE_PACKAGES)  # also runs the venv's .pth files
try:
    import vhctl_hub.script as hub_runtime
except Exception as exc:  # noqa: BLE001  (any kind: a missing, partial or broken install)
    _cannot_load("cannot import vhctl_hub from %s (%s: %s); run: vhctl install"
                 % (SITE_PACKAGES, type(exc).__name__, exc))
try:
    hub_runtime.register(COMPONENT, CONFIG_FILE, globals())
except hub_runtime.LoadError as exc:
    _cannot_load(str(exc))
except Exception as exc:  # noqa: BLE001  (a bug of ours: still one line, and the hub goes on)
    _cannot_load("%s failed to start (%s: %s); please report it" % (COMPONENT, type(exc).__name__, exc))


# Hooks: each hands the event to the runtime and returns 1 (go on) or 0 (a vhctl command was handled).
# OnParsedMsgAny comes before every user message's own hooks: it tells the runtime where one begins.
def OnTimer(now): return hub_runtime.dispatch("OnTimer", now)
def OnUserLogin(nick): return hub_runtime.dispatch("OnUserLogin", nick)
def OnUserLogout(nick): return hub_runtime.dispatch("OnUserLogout", nick)
def OnParsedMsgAny(nick, raw): return hub_runtime.dispatch("OnParsedMsgAny", nick, raw)
def OnParsedMsgMyINFO(nick, desc, tag, speed, email, share):
    return hub_runtime.dispatch("OnParsedMsgMyINFO", nick, desc, tag, speed, email, share)
def OnParsedMsgChat(nick, text): return hub_runtime.dispatch("OnParsedMsgChat", nick, text)
def OnHubCommand(nick, command, user_class, in_pm, prefix):
    return hub_runtime.dispatch("OnHubCommand", nick, command, user_class, in_pm, prefix)
def OnUnLoad(code): return hub_runtime.dispatch("OnUnLoad", code)
