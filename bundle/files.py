"""Atomic file writes, used by the CLI (configs, scripts) and the hub side (status files).

A reader never sees half a file: we write a temporary file in the same folder, flush it to disk and
rename it over the target (rename is atomic within one file system).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional, Union


def atomic_write(path: Union[str, Path], data: Union[str, bytes], mode: Optional[int] = None) -> None:
    """Replace ``path`` with ``data`` atomically, keeping the old file's permissions unless ``mode``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
