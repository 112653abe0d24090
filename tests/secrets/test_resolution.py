"""How the hub side finds its keyring: only from the record (or an explicit variable), re-resolved
when the record changes or the last attempt failed, so nothing needs a hub restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vhctl_hub import secrets as vault

LATE_BACKEND = '''
from keyring.backend import KeyringBackend


class Keyring(KeyringBackend):
    """A backend that appears after the hub started (as a pip install into the running hub's venv)."""
    priority = 1
    values = {}

    def get_password(self, service, username):
        return self.values.get((service, username))

    def set_password(self, service, username, password):
        self.values[(service, username)] = password

    def delete_password(self, service, username):
        self.values.pop((service, username))
'''


def write_record(path: Path, choice: vault.Choice) -> None:
    """Replace the record as `vhctl install` does (a new file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_suffix(".new")
    fresh.write_text(choice.to_json())
    os.replace(fresh, path)


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "venv" / vault.RECORD
    monkeypatch.setenv(vault.RECORD_ENV, str(path))
    monkeypatch.delenv(vault.BACKEND_ENV, raising=False)
    return path


def test_a_backend_installed_while_the_hub_runs_is_used_at_the_next_read(record, tmp_path, monkeypatch):
    packages = tmp_path / "site-packages"
    packages.mkdir()
    monkeypatch.syspath_prepend(str(packages))
    write_record(record, vault.Choice("late_vhctl_backend.Keyring"))
    with pytest.raises(vault.KeyringUnavailable, match="late_vhctl_backend.Keyring cannot be loaded"):
        vault.read_secret("api")
    (packages / "late_vhctl_backend.py").write_text(LATE_BACKEND)
    assert vault.read_secret("api") is None
    vault.store_secret("api", "late-token")
    assert vault.read_secret("api") == "late-token"


def test_a_changed_record_is_followed_without_a_restart(record, tmp_path):
    first, second = tmp_path / "one.cfg", tmp_path / "two.cfg"
    write_record(record, vault.Choice(vault.FILE_BACKEND, str(first)))
    vault.store_secret("matterbridge", "first-token")
    write_record(record, vault.Choice(vault.FILE_BACKEND, str(second)))
    assert vault.read_secret("matterbridge") is None
    vault.store_secret("matterbridge", "second-token")
    assert vault.read_secret("matterbridge") == "second-token"
    write_record(record, vault.Choice(vault.FILE_BACKEND, str(first)))
    assert vault.read_secret("matterbridge") == "first-token"


def test_the_stamp_changes_when_a_token_is_stored(record, tmp_path):
    write_record(record, vault.Choice(vault.FILE_BACKEND, str(tmp_path / "keyring.cfg")))
    vault.store_secret("api", "one")
    before = vault.stamp()
    vault.store_secret("api", "a-longer-second-value")
    assert before and vault.stamp() != before


def test_without_a_record_the_hub_says_to_run_install(tmp_path, monkeypatch):
    monkeypatch.delenv(vault.RECORD_ENV, raising=False)
    monkeypatch.delenv(vault.BACKEND_ENV, raising=False)
    with pytest.raises(vault.KeyringUnavailable, match=r"no keyring is chosen for the hub yet; run `vhctl install`"):
        vault.read_secret("api")


def test_a_damaged_record_is_one_line(record):
    record.parent.mkdir(parents=True)
    record.write_text('{"backend": 3}')
    with pytest.raises(vault.KeyringUnavailable, match="is damaged; run `vhctl install` again"):
        vault.read_secret("api")


def test_unknown_secret_names_are_refused():
    with pytest.raises(ValueError, match="unknown secret 'irc'; known: api, matterbridge"):
        vault.read_secret("irc")


def test_use_temporary_keyring_makes_a_private_keyring_for_the_demo(tmp_path, monkeypatch):
    monkeypatch.setenv(vault.RECORD_ENV, "")  # restored afterwards: the function sets it
    record = vault.use_temporary_keyring(tmp_path / "demo-keyring")
    assert os.environ[vault.RECORD_ENV] == str(record)
    vault.store_secret("api", "demo-token-value")
    stored = Path(vault.read_record(record).file)
    assert stored.parent == tmp_path / "demo-keyring" and vault.read_secret("api") == "demo-token-value"
    assert stored.stat().st_mode & 0o777 == 0o600 and (tmp_path / "demo-keyring").stat().st_mode & 0o777 == 0o700
