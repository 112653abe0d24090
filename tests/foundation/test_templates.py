"""The hub scripts share their loader from one source: each template keeps only what is its own, the
fragments of ``templates/`` are pasted in whole, and every rendered script is self-contained again
(no include line left) and shipped with the package."""

from __future__ import annotations

import ast
import fnmatch
from importlib import resources
from pathlib import Path

import pytest
import tomlkit

from vhctl.errors import VhctlError
from vhctl.files import GENERATED_MARK
from vhctl.render import INCLUDE, render, render_text, template_text
from vhctl.scripts import SCRIPTS

REPO = Path(__file__).resolve().parents[2]
HEADER, LOADER = "_shared_header.txt", "_shared_loader.py"
VALUES = {"venv": "/v", "site_packages": "/v/lib/python3.11/site-packages", "python": "3.11",
          "config_file": "/etc/vhctl/config.toml"}


def _shipped(name: str) -> str:
    return resources.files("vhctl_templates").joinpath(name).read_text(encoding="utf-8")


def _rendered(template: str) -> str:
    return render(template, {**VALUES, "component": SCRIPTS[template]})


def _loader(component: str) -> str:
    """The shared fragment rendered on its own, with the values a script gets."""
    text = render_text(f"# {GENERATED_MARK}\n" + _shipped(LOADER), {**VALUES, "component": component})
    return text.split("\n", 1)[1]


def test_both_scripts_end_with_the_one_loader_byte_for_byte() -> None:
    for template, component in SCRIPTS.items():
        assert _rendered(template).endswith(_loader(component)), template
    assert len(_loader("api").splitlines()) > 60  # the loader is all of a script's code


def test_both_headers_list_the_shared_effects_from_one_fragment() -> None:
    shared = _shipped(HEADER)
    for template in SCRIPTS:
        header = ast.get_docstring(ast.parse(_rendered(template)), clean=False) or ""
        assert shared in header and header.count(shared) == 1


@pytest.mark.parametrize("template", sorted(SCRIPTS))
def test_a_template_holds_only_its_own_header_and_the_include_lines(template: str) -> None:
    raw = _shipped(template)
    tree = ast.parse(raw)
    assert [type(node) for node in tree.body] == [ast.Expr]  # a docstring, nothing else: no code of its own
    assert INCLUDE.findall(raw) == [HEADER, LOADER]
    assert "def " not in raw and "import" not in raw


@pytest.mark.parametrize("template", sorted(SCRIPTS))
def test_a_rendered_script_is_self_contained(template: str) -> None:
    text = _rendered(template)
    assert "@include" not in text and '"@' not in text  # no include line, no placeholder left
    assert text.startswith(f"# {GENERATED_MARK} (template {template})")
    assert template_text(template).count("\n") == text.count("\n")  # values are one-line literals


def test_render_refuses_an_include_line_it_did_not_expand() -> None:
    with pytest.raises(VhctlError, match="keeps the include line of '_x.py'"):
        render_text(f"# {GENERATED_MARK}\n# @include _x.py@\n", {})


def test_every_file_of_the_templates_folder_is_package_data() -> None:
    """A fragment left out of the wheel would break `vhctl render` for an installed vhctl only."""
    config = tomlkit.parse((REPO / "pyproject.toml").read_text(encoding="utf-8")).unwrap()
    patterns = config["tool"]["setuptools"]["package-data"]["vhctl_templates"]
    files = [p.name for p in (REPO / "templates").iterdir() if p.is_file()]
    assert {HEADER, LOADER} <= set(files)
    assert [name for name in files if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)] == []
