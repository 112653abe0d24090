"""The gateway checks (M22): from the traffic the bridge sees, and from a matterbridge.toml."""

from __future__ import annotations

import subprocess
import sys

import pytest

from testkit import tomltext

from vhctl_hub.bridge.gatewaycheck import from_traffic, in_config, parse

OURS = ("api.vhctl", "api")
TOML = "\n".join([
    '[api.vhctl]\nBindAddress = "127.0.0.1:4242"\n',
    tomltext.gateway("dchub", inout=[OURS, ("irc.libera", "#hub")]),
    tomltext.gateway("off", enable=False, inout=[OURS]),
    tomltext.gateway("oneway", in_=[OURS]),
])


def test_M22_a_gateway_in_the_config_enabled_with_our_account_both_ways_passes():
    assert in_config(parse(TOML), "dchub", "api.vhctl") is None
    assert in_config(parse(TOML), "dchub") is None            # account not known yet: name and enable only


@pytest.mark.parametrize("gateway, account, words", [
    ("nope", "api.vhctl", "no gateway named nope"),
    ("DCHUB", "api.vhctl", "names are exact: dchub?"),
    ("off", "api.vhctl", "not enabled"),
    ("dchub", "api.other", "does not list the account api.other"),
    ("oneway", "api.vhctl", "only as in"),
])
def test_M22_what_keeps_our_lines_from_being_routed_is_named(gateway, account, words):
    assert words in in_config(parse(TOML), gateway, account)


def test_not_toml_is_one_line():
    with pytest.raises(ValueError, match="not valid TOML"):
        parse("[[gateway]\nname=")


def test_M48_traffic_from_another_gateway_only_names_it():
    assert "arrive from gateway dchub" in from_traffic("typo", ["dchub"], 3, False)
    assert from_traffic("dchub", ["dchub", "other"], 3, False) is None   # an account in two gateways
    assert "nothing has come back" in from_traffic("dchub", [], 1, True)
    assert from_traffic("dchub", [], 0, True) is None                     # nothing sent: nothing to say


def test_the_checks_import_without_the_bridge_network_libraries():
    """The CLI (vhctl doctor) calls them in a venv that has neither websockets nor urllib3."""
    code = ("import sys, vhctl_hub.bridge.gatewaycheck; "
            "print([m for m in ('websockets', 'urllib3') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
