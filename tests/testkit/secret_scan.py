"""After the whole run: no token of any test's keyring appears anywhere else.

Every token the suite stored sits in a file keyring under pytest's base temp folder (the tests'
HOMEs, hub state folders, rendered scripts, configs and logs all live there too). At the end of the
session the tokens are read back from those keyring files, and every other file under the base
folder, plus everything the tests printed (captured stdout, stderr and logs), is searched for them.
A hit fails the session, naming the file or test, never the token.
"""

from __future__ import annotations

import base64
import configparser
import os
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

SERVICE = "vhctl"
TESTS = Path(__file__).resolve().parents[1]
#: Files larger than this are not searched (none of ours is).
MAX_BYTES = 8 * 1024 * 1024
#: Captured output kept per test, characters.
MAX_CAPTURE = 1_000_000


class SecretScan:
    def __init__(self) -> None:
        self.captured: Dict[str, str] = {}
        #: The base temp folder, once a test ran (tests/conftest.py's session fixture sets it).
        self.base: Optional[Path] = None

    def record(self, nodeid: str, sections: Iterable[tuple]) -> None:
        text = "\n".join(content for _, content in sections)
        if text:
            self.captured[nodeid] = (self.captured.get(nodeid, "") + text)[-MAX_CAPTURE:]

    def scan(self, base: Path) -> List[str]:
        keyrings = [p for p in _files(base) if p.suffix == ".cfg" and _is_keyring(p)]
        tokens = set().union(*(_tokens(p) for p in keyrings)) if keyrings else set()
        tokens -= _written_in_the_tests(tokens)
        if not tokens:
            return []
        skip = set(keyrings)
        hits = []
        for path in _files(base):
            if path in skip or path.stat().st_size > MAX_BYTES:
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if any(t.encode() in data for t in tokens):
                hits.append(f"file {path.relative_to(base)}")
        hits += [f"output of {node}" for node, text in self.captured.items() if any(t in text for t in tokens)]
        return hits


def _written_in_the_tests(tokens: Set[str]) -> Set[str]:
    """The tokens that are constants of the test sources (a test that stores a fixed value): found in
    a copy of the checkout, they are no leak."""
    found: Set[str] = set()
    for path in _files(TESTS):
        if path.suffix == ".py":
            text = path.read_text(encoding="utf-8", errors="replace")
            found |= {t for t in tokens if t in text}
    return found


def _files(base: Path) -> List[Path]:
    found = []
    for root, _dirs, names in os.walk(base):
        for name in names:
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def _is_keyring(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return f"[{SERVICE}]" in head


def _tokens(path: Path) -> Set[str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError):
        return set()
    found = set()
    for section in parser.sections():
        for _, value in parser.items(section):
            try:
                plain = base64.b64decode(value.replace("\n", ""), validate=False).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                continue
            if len(plain) >= 16 and plain.isprintable():
                found.add(plain)
    return found
