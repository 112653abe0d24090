"""The state folder is private: made 0700, a real directory of the hub's user, writable by nobody else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vhctl_hub import told
from vhctl_hub.statedir import StateDirError, ensure_private, fallback_state_dir


def test_a_new_state_folder_is_made_0700(tmp_path: Path) -> None:
    folder = ensure_private(tmp_path / "a" / "state")
    assert folder.stat().st_mode & 0o777 == 0o700


def test_the_fallback_is_the_users_own_state_folder_not_a_shared_temp_path(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert fallback_state_dir() == tmp_path / ".local" / "state" / "vhctl"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert fallback_state_dir() == tmp_path / "xdg" / "vhctl"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/path")  # ignored, as the XDG rules say
    assert fallback_state_dir() == tmp_path / ".local" / "state" / "vhctl"


def test_a_symlink_a_file_or_a_folder_others_can_write_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file").write_text("")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    for path, words in ((tmp_path / "link", "not a directory"), (tmp_path / "file", "not a directory"),
                        (shared, "writable by other users")):
        with pytest.raises(StateDirError, match=words):
            ensure_private(path)


def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a folder away")
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    os.chown(other, 65534, 65534)
    with pytest.raises(StateDirError, match="belongs to uid 65534"):
        ensure_private(other)


def test_a_notice_is_told_once_per_hub_process_and_markers_of_gone_processes_are_removed(tmp_path: Path) -> None:
    (tmp_path / told.FOLDER).mkdir()
    stale = tmp_path / told.FOLDER / "999999999-abc"
    stale.write_text("")
    assert told.first_time(tmp_path, "api cannot start again") is True
    assert told.first_time(tmp_path, "api cannot start again") is False
    assert told.first_time(tmp_path, "something else") is True
    assert not stale.exists()
