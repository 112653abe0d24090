"""The runtime's parts that need no hub: work queue, event feed, de-duplication, commands, status,
lease, hook guard, rendering."""

from __future__ import annotations

import ast
import json
import re
import threading
import time

import pytest

from vhctl.errors import VhctlError
from vhctl.files import GENERATED_MARK
from vhctl.render import placeholders, render, render_text, template_text
from vhctl_hub.commands import CommandSet, route
from vhctl_hub.dispatch import HOOKS, MESSAGE_HOOK, HookDispatcher, plugin_verdict
from vhctl_hub.events import EventFeed
from vhctl_hub.hookguard import HookGuard
from vhctl_hub.lease import Lease
from vhctl_hub.starterror import describe_start_error
from vhctl_hub.status import MIN_INTERVAL, StatusBoard, read_status, scrub, status_path
from vhctl_hub.vhaccess import VhAccess
from vhctl_hub.workqueue import QueueFull, WorkQueue


# ------------------------------------------------------------------ work queue
def test_queue_drains_by_time_budget_not_count():
    queue = WorkQueue()
    for _ in range(50):
        queue.submit(time.sleep, 0.002)
    ran = queue.drain(0.005)
    assert 1 <= ran < 50
    assert queue.lag()[0] == 50 - ran


def test_queue_runs_at_least_one_item_and_reports_lag():
    queue = WorkQueue()
    future = queue.submit(lambda: 42)
    time.sleep(0.02)
    pending, oldest = queue.lag()
    assert pending == 1 and oldest >= 0.02
    assert queue.drain(0.0) == 1
    assert future.result(0) == 42
    assert queue.lag() == (0, 0.0)


def test_queue_errors_go_to_the_future():
    queue = WorkQueue()
    future = queue.submit(lambda: 1 / 0)
    queue.drain(1)
    with pytest.raises(ZeroDivisionError):
        future.result(0)
    assert queue.failed == 1 and "ZeroDivisionError" in queue.last_error


def test_queue_is_bounded():
    queue = WorkQueue(max_pending=3)
    for _ in range(3):
        queue.submit(int)
    with pytest.raises(QueueFull):
        queue.submit(int)


def test_queue_from_many_threads():
    queue = WorkQueue()
    results = []
    threads = [threading.Thread(target=lambda: [queue.submit(results.append, 1) for _ in range(500)])
               for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) or queue.lag()[0]:
        queue.drain(0.01)
    assert len(results) == 2000


# ------------------------------------------------------------------ event feed
def test_feed_cursor_and_wait():
    feed = EventFeed()
    assert feed.since(0) == ([], 0)
    feed.publish("login", "alice", user={"nick": "alice"})
    events, cursor = feed.since(0)
    assert [(e.seq, e.kind, e.nick) for e in events] == [(1, "login", "alice")] and cursor == 1
    threading.Timer(0.05, feed.publish, ("logout", "alice")).start()
    events, cursor = feed.wait(cursor, 5)
    assert [e.kind for e in events] == ["logout"] and cursor == 2


def test_feed_tells_a_slow_reader_about_the_gap():
    feed = EventFeed(capacity=3)
    for i in range(10):
        feed.publish("stats", None, n=i)
    events, cursor = feed.since(2)
    assert events[0].kind == "gap" and events[0].data["missed"] == 5
    assert [e.data["n"] for e in events[1:]] == [7, 8, 9] and cursor == 10


# ------------------------------------------------------------------ de-duplication (F3, A12)
def _single_dispatcher(verdicts=None, nested=None):
    """A single-mode dispatcher whose handlers count the events they get (returned list); a hook in
    ``nested`` fires that other call from inside its own handler, like OnSetConfig inside vh.SetConfig."""
    handled = []
    verdicts, nested = verdicts or {}, nested or {}

    def handler(hook):
        def handle(*args):
            handled.append((hook, args))
            if hook in nested:
                dispatcher.dispatch(*nested[hook])
            return verdicts.get(hook, 1)
        return handle

    names = set(HOOKS) | {"OnSetConfig"}
    guard = HookGuard(HOOKS, lambda name: (lambda *args: 1))
    dispatcher = HookDispatcher(True, {name: handler(name) for name in names}, guard,
                                VhAccess(threading.get_ident(), True))
    return dispatcher, handled


def _feed(calls):
    """Run calls through a single-mode dispatcher; returns how many events its handlers got
    (OnParsedMsgAny is grouped like the others but has no handler)."""
    dispatcher, handled = _single_dispatcher()
    for hook, args in calls:
        dispatcher.dispatch(hook, *args)
    return len(handled)


def test_A12_repeated_calls_of_one_event_are_one_event():
    calls = [("OnTimer", (1.0,))] * 3 + [("OnParsedMsgChat", ("a", "hi"))] * 3 + [("OnTimer", (2.0,))] * 3
    assert _feed(calls) == 3


def test_A3_F32_the_same_command_twice_is_two_events_with_any_slot_count():
    for slots in (1, 2, 3):
        command = [(MESSAGE_HOOK, ("op", "<op> !api start"))] * slots + \
                  [("OnHubCommand", ("op", "api start", 10, 0, "!"))] * slots
        assert _feed(command * 2) == 2  # each message's OnParsedMsgAny separates the two commands
        chat = [(MESSAGE_HOOK, ("op", "<op> same"))] * slots + [("OnParsedMsgChat", ("op", "same"))] * slots
        assert _feed(chat * 3) == 3


def test_without_a_message_between_identical_calls_are_one_event():
    """Why every script defines OnParsedMsgAny: the calls alone cannot tell 2 slots from 2 events."""
    assert _feed([("OnParsedMsgChat", ("op", "same"))] * 4) == 1


def test_the_repeat_returns_the_first_verdict():
    dispatcher, handled = _single_dispatcher(verdicts={"OnHubCommand": 0})
    assert dispatcher.dispatch("OnHubCommand", "n", "api", 10, 0, "!") == 0
    assert dispatcher.dispatch("OnHubCommand", "n", "api", 10, 0, "!") == 0
    assert len(handled) == 1


def test_nested_hooks_keep_their_own_runs():
    dispatcher, handled = _single_dispatcher(nested={"OnTimer": ("OnSetConfig", "x")})
    assert dispatcher.dispatch("OnTimer", 1.0) == 1   # OnSetConfig fires inside its handler
    assert dispatcher.dispatch("OnTimer", 1.0) == 1   # the second slot's call of the same tick
    assert handled == [("OnTimer", (1.0,)), ("OnSetConfig", ("x",))]
    assert dispatcher.dedup.depth == 0


@pytest.mark.parametrize("value, verdict", [(1, 1), (True, 1), (2, 1), (-1, 1), (0, 0), (False, 0),
                                            (None, 0), (1.5, 1), ("s", 1), ([], 1)])
def test_F20_plugin_verdict(value, verdict):
    assert plugin_verdict(value) == verdict


# ------------------------------------------------------------------ commands (F42)
def _commands():
    cmds = CommandSet("api", min_class=3, summary="the API")

    @cmds.sub("echo", "<text>", "say it back")
    def echo(call):
        return f"{call.prefix}{call.args} {call.text!r} pm={call.in_pm}"

    @cmds.sub("fail", "", "raises")
    def fail(call):
        raise RuntimeError("nope")

    return cmds


def _route(command, user_class=10, prefix="!", in_pm=False):
    replies = []
    verdict = route([_commands()], "alice", command, user_class, in_pm, prefix, replies.append)
    return verdict, replies


def test_F42_own_command_is_handled_and_arguments_unescaped():
    verdict, replies = _route("api echo a&#36;b c", prefix="+")
    assert verdict == 0
    assert replies == ["+['a$b', 'c'] 'a$b c' pm=False"]


@pytest.mark.parametrize("command", ["apix echo", "pyload /x.py", "help", ""])
def test_F7_other_commands_pass_through(command):
    assert _route(command) == (1, [])


def test_class_below_minimum_is_refused():
    verdict, replies = _route("api echo x", user_class=2)
    assert verdict == 0 and "class 3 (operator)" in replies[0] and "class 2 (vip)" in replies[0]


@pytest.mark.parametrize("command", ["api", "API help", "api nosuch"])
def test_help_for_missing_or_unknown_subcommand(command):
    verdict, replies = _route(command, prefix="/")
    assert verdict == 0
    assert "/api echo <text>  - say it back" in replies[0]
    assert ("unknown subcommand 'nosuch'" in replies[0]) == command.endswith("nosuch")


def test_failing_handler_is_reported_not_raised():
    verdict, replies = _route("api fail")
    assert verdict == 0 and replies == ["!api fail failed: RuntimeError: nope"]


# ------------------------------------------------------------------ status
def test_status_file_is_json_without_secrets(tmp_path):
    board = StatusBoard("api", mode="sub")
    board.set(port=8000, state="running", running=True)
    board.count("requests", 3)
    board.write(status_path(tmp_path, "api"),
                {"extra": {"api_token": "s3cr3t-value", "ok": 1, "nested": [{"Password": 1}]}})
    data = read_status(tmp_path, "api")
    assert data["port"] == 8000 and data["counters"] == {"requests": 3} and data["updated_at"] > 0
    assert data["extra"] == {"ok": 1, "nested": [{}]}
    assert "s3cr3t" not in json.dumps(data)
    assert read_status(tmp_path, "nothing") is None


def test_status_write_is_throttled(tmp_path):
    board = StatusBoard("api")
    assert board.due(time.monotonic())
    board.write(status_path(tmp_path, "api"), {})
    board.set(port=1)
    now = time.monotonic()
    assert not board.due(now)
    assert board.due(now + MIN_INTERVAL)  # held back, not lost


def test_scrub_keeps_plain_values():
    assert scrub({"a": [1, {"token_file": 2, "b": 3}]}) == {"a": [1, {"b": 3}]}


# ------------------------------------------------------------------ lease (reload rendezvous)
def test_lease_newest_instance_wins(tmp_path):
    old, new = Lease(tmp_path, "api"), Lease(tmp_path, "api")
    old.claim()
    assert old.try_acquire() and not old.superseded()
    new.claim()
    assert not new.try_acquire()  # flock excludes within one process too
    assert old.superseded()
    old.release()
    assert new.try_acquire() and not new.superseded()
    new.release()


# ------------------------------------------------------------------ hook guard (single mode)
def test_hook_guard_restores_ours_and_chains_theirs(tmp_path):
    space = {"__file__": str(tmp_path / "ours.py")}
    exec(compile("def OnTimer(t): return 'old-foreign'", str(tmp_path / "foreign.py"), "exec"), space)
    foreign_before = space["OnTimer"]
    guard = HookGuard(HOOKS, lambda name: (lambda *args: 1))
    guard.adopt(space)
    assert guard.foreign == {"OnTimer": foreign_before}
    exec(compile("def OnTimer(t): return 1", str(tmp_path / "ours.py"), "exec"), space)
    ours = space["OnTimer"]
    guard.restore()
    exec(compile("def OnTimer(t): return 'newer'", str(tmp_path / "later.py"), "exec"), space)
    later = space["OnTimer"]
    guard.restore()
    assert space["OnTimer"] is ours and guard.foreign["OnTimer"] is later


# ------------------------------------------------------------------ rendering
VALUES = {"venv": "/v", "site_packages": "/v/lib/python3.11/site-packages", "python": "3.11",
          "config_file": "/etc/vhctl/config.toml", "component": "api"}


@pytest.mark.parametrize("hostile", [
    "it's \"quoted\"", "back\\slash\\", "new\nline\r\n", "Ünïcödé Ж 😀", "\u2028\x00\x1b", "'''", '"""\\',
    "@site_packages@", '" + __import__("os").system("x") + "',
])
def test_render_any_value_compiles_and_means_itself(hostile):
    text = render("hub_api.py", {**VALUES, "config_file": hostile})
    assert text.split("\n", 1)[0].startswith(f"# {GENERATED_MARK}")
    tree = ast.parse(text)
    assigned = {n.targets[0].id: ast.literal_eval(n.value) for n in tree.body
                if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
                and isinstance(n.value, ast.Constant)}
    assert assigned["CONFIG_FILE"] == hostile
    assert assigned["SITE_PACKAGES"] == VALUES["site_packages"]


def test_render_checks_names_and_refuses_secrets():
    with pytest.raises(VhctlError, match="needs values for: component"):
        render("hub_api.py", {k: v for k, v in VALUES.items() if k != "component"})
    with pytest.raises(VhctlError, match="no placeholder for: extra"):
        render("hub_api.py", {**VALUES, "extra": 1})
    with pytest.raises(VhctlError, match="secrets never go"):
        render_text('# generated by vhctl\nX = "@api_token@"\n', {"api_token": "s"})
    with pytest.raises(VhctlError, match="must be text"):
        render("hub_api.py", {**VALUES, "python": 3.0 * float("inf")})
    with pytest.raises(VhctlError, match="no template"):
        render("nope.py", {})


@pytest.mark.parametrize("template", ["hub_api.py", "matterbridge.py"])
def test_each_template_is_short_and_defines_exactly_the_runtime_hooks(template):
    text = template_text(template)
    header = ast.get_docstring(ast.parse(text)) or ""
    assert len(text.splitlines()) - len(header.splitlines()) <= 70  # the code, beside what it tells
    assert "What loading this script does to the hub process" in header
    assert placeholders(text) == set(VALUES)
    defined = {n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)}
    assert defined - {"_cannot_load"} == set(HOOKS)
    for word in ("token", "password", "secret"):
        assert word not in text.lower()


def test_A10_compiled_modules_that_refuse_a_second_interpreter_get_the_sub_mode_explanation():
    """pydantic-core (PyO3) and httptools (Cython 3) refuse a second sub-interpreter in their own
    words; both become the same one line for the operator."""
    for message in ("PyO3 modules do not yet support subinterpreters, see https://github.com/PyO3/pyo3/issues/576",
                    "Interpreter change detected - this module can only be loaded into one interpreter per process."):
        line = describe_start_error("api", ImportError(message))
        assert "restart the hub" in line and "PYTHON_USE_SINGLE_INTERPRETER=ON" in line
        assert not re.search(r"\b[AFM]\d+\b", line)  # no spec numbers in operator text
    assert describe_start_error("api", ImportError("no module x")) == "api cannot start: ImportError: no module x"
