"""Text that operators and sysadmins read never cites the spec's fact numbers (they mean nothing
outside the repository) and never sends anyone to files outside it: the README's prose and every
command's --help. Code comments, test names and docs/facts.md are where the numbers belong."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FACT_NUMBER = re.compile(r"\b[FAM][0-9]{1,2}(?:\.[0-9]+)?\b")


def _prose(markdown: str) -> str:
    """The README without its fenced code blocks and inline code (where a name like `F1` could be a
    key or a file, not a citation)."""
    without_blocks = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`]*`", "", without_blocks)


def test_the_readme_cites_no_fact_numbers_and_names_nothing_outside_the_repository() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    prose = _prose(readme)
    assert not FACT_NUMBER.findall(prose), [line for line in prose.splitlines() if FACT_NUMBER.search(line)]
    assert "../shared" not in readme and "/work/" not in readme


def _help(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "vhctl", *args, "--help"], cwd=REPO, capture_output=True,
                         text=True, timeout=120, env={"COLUMNS": "80", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def _commands(help_text: str) -> list[str]:
    """The command names listed under "Commands:" (plain click layout, which COLUMNS=80 and no
    terminal give)."""
    _, found, rest = help_text.partition("\nCommands:\n")
    return re.findall(r"^  (\w[\w-]*)", rest, flags=re.M) if found else []


def test_no_help_text_cites_fact_numbers() -> None:
    top = _help()
    texts = {"vhctl": top}
    for name in _commands(top):
        texts[name] = _help(name)
        for sub in _commands(texts[name]):
            texts[f"{name} {sub}"] = _help(name, sub)
    assert {"demo", "status", "token", "token generate", "render"} <= set(texts), sorted(texts)
    cited = {name: FACT_NUMBER.findall(text) for name, text in texts.items() if FACT_NUMBER.search(text)}
    assert not cited, cited
