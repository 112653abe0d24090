"""vhctl.interpreter: real interpreters are asked their version; requests that contradict the plugin's
Python (F1) are refused with one line saying what to do."""

from __future__ import annotations

import sys

import pytest

from vhctl import interpreter
from vhctl.errors import VhctlError

THIS = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER = "3.9" if THIS != "3.9" else "3.10"


def test_probe_asks_the_interpreter_itself() -> None:
    found = interpreter.probe([sys.executable])
    assert found is not None
    assert found.version == tuple(sys.version_info[:3]) and found.xy == THIS
    assert found.can_make_venvs


@pytest.mark.parametrize("command", [["/bin/true"], ["/nonexistent/python3"], ["/bin/sh", "-c", "exit 3"]])
def test_probe_of_a_non_python_is_none(command: list) -> None:
    assert interpreter.probe(command) is None


@pytest.mark.parametrize(("text", "expected"), [("3.11", "3.11"), (" 3.9 ", "3.9"), ("3.011", "3.11"),
                                                 ("3", None), ("3.11.2", None), ("python3.11", None)])
def test_parse_version(text: str, expected) -> None:
    assert interpreter.parse_version(text) == expected


def test_a_version_request_finds_a_matching_interpreter() -> None:
    found = interpreter.resolve(THIS, None)
    assert found.xy == THIS and found.can_make_venvs
    assert interpreter.probe([found.executable]) == found


def test_a_path_request_is_resolved_to_the_real_interpreter() -> None:
    found = interpreter.resolve(sys.executable, THIS)
    assert found.xy == THIS
    if sys.prefix != sys.base_prefix:  # the tests run in a venv: its python is only a link
        assert not found.executable.startswith(sys.prefix + "/")


def test_F1_version_request_contradicting_the_plugin_is_refused() -> None:
    with pytest.raises(VhctlError) as info:
        interpreter.resolve(THIS, OTHER, required_by="the plugin /x/libpython_pi.so")
    message = str(info.value)
    assert f"embeds Python {OTHER}" in message and f"is Python {THIS}" in message and "\n" not in message


def test_F1_path_request_contradicting_the_plugin_is_refused() -> None:
    with pytest.raises(VhctlError, match=f"embeds Python {OTHER} but --python"):
        interpreter.resolve(sys.executable, OTHER)


def test_missing_version_says_what_to_install() -> None:
    with pytest.raises(VhctlError) as info:
        interpreter.resolve("3.99", None)
    assert "apt-get install python3.99 python3.99-venv" in str(info.value)


@pytest.mark.parametrize(("request_", "words"), [("/nonexistent/python3.11", "no such file"),
                                                  ("no-such-python-command", "no such command"),
                                                  ("/bin/true", "did not answer as a Python")])
def test_bad_python_request_is_one_line(request_: str, words: str) -> None:
    with pytest.raises(VhctlError) as info:
        interpreter.resolve(request_, None)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_too_old_python_is_refused() -> None:
    with pytest.raises(VhctlError, match="too old"):
        interpreter.resolve("3.8", None)


def test_nothing_to_go_by_is_refused() -> None:
    with pytest.raises(VhctlError, match="--plugin PATH"):
        interpreter.resolve(None, None)
