"""Atomic file writes, used by the CLI (configs, scripts) and the hub side (status files).

A reader never sees half a file, and a writer killed at any point leaves the old content or the
new, never a mix: we write a temporary file in the same folder, flush it to disk and rename it over
the target (a rename within one file system is atomic), then flush the folder so that the rename
itself survives a crash.

What is replaced is only ever a regular file. A device, a folder, a socket or a FIFO at the path is
refused (``vhctl --config /dev/null configure ...`` run as root must not turn /dev/null into a
file). A symlink is followed and its target is written, so the link stays a link. The replaced
file's owner, group and mode are given to the new one: a ``root:hubgroup 0640`` config stays
readable by the hub's service user after root edits it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Optional, Tuple, Union

#: Mode of a file that did not exist before (the caller may ask for another, e.g. 0600).
NEW_FILE_MODE = 0o644


class NotARegularFile(OSError):
    """The path exists and is not a regular file, so it is never replaced."""


def write_target(path: Union[str, Path]) -> Path:
    """The file a write to ``path`` changes: ``path`` itself, or the end of its symlink chain."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def kind_of(st: os.stat_result) -> str:
    """What a non-regular file is, in words."""
    mode = st.st_mode
    for test, word in ((stat.S_ISLNK, "a symlink"), (stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return word
    return "not a regular file"


def existing_regular(path: Path) -> Optional[os.stat_result]:
    """The stat of ``path`` when it is a regular file, None when it does not exist; anything else
    raises NotARegularFile (``path`` is already the write target: no symlink is followed here)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise NotARegularFile(f"{path} is {kind_of(st)}, not a regular file")
    return st


def atomic_write(path: Union[str, Path], data: Union[str, bytes], mode: Optional[int] = None,
                 owner: Optional[Tuple[int, int]] = None) -> Path:
    """Replace the regular file ``path`` (or its symlink's target) with ``data`` atomically.

    The new file gets the old one's owner, group and mode; ``mode`` and ``owner`` (uid, gid)
    override them (a backup takes its original's). A new file gets ``mode`` or ``NEW_FILE_MODE``.
    Missing parent folders are created. Returns the path written (a symlink's target).
    """
    target = write_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    old = existing_regular(target)
    if mode is None:
        mode = stat.S_IMODE(old.st_mode) if old else NEW_FILE_MODE
    if owner is None and old is not None:
        owner = (old.st_uid, old.st_gid)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            if owner is not None and owner != (os.geteuid(), os.getegid()):
                os.fchown(handle.fileno(), *owner)
            os.fchmod(handle.fileno(), mode)  # after chown, which may clear set-id bits
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _sync_folder(target.parent)
    return target


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry so the rename survives a power cut (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
