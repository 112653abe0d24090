"""Rendering the hub scripts from ``templates/``: each placeholder becomes a Python literal.

A template is itself valid Python: a placeholder is the string literal ``"@name@"``. Rendering
replaces the whole literal (quotes included) with ``repr(value)``, so any configured value (quotes,
backslashes, newlines, any Unicode) compiles and means exactly that value; no value is ever pasted
into code as text. Every placeholder needs a value and every value a placeholder (a typo fails
loudly), values whose name looks like a secret are refused (scripts are world-readable configuration,
tokens live in the keyring), and the result must compile and start with ``GENERATED_MARK``.

What several scripts share is written once, in a fragment of ``templates/`` (a name starting with
``_``): a line ``# @include NAME@`` of a template is replaced, whole, by the text of fragment NAME
before the values are filled in (in the header's docstring as well as in the code). A fragment
includes nothing, and a rendered script has no include line left: each one is self-contained.
"""

from __future__ import annotations

import math
import re
from importlib import resources
from typing import Any, Mapping

from vhctl.errors import VhctlError
from vhctl.files import GENERATED_MARK

PLACEHOLDER = re.compile(r'"@([a-z_][a-z0-9_]*)@"')
INCLUDE = re.compile(r"^# @include ([A-Za-z0-9_.-]+)@\n", re.MULTILINE)
_SECRET_WORDS = ("token", "secret", "password", "passwd", "api_key", "private")


def template_text(template_name: str) -> str:
    """The text of a template shipped in ``vhctl_templates``, each include line replaced by its fragment."""
    text = _shipped(template_name, f"no template named {template_name!r}")
    return INCLUDE.sub(lambda m: _fragment(m.group(1), template_name), text)


def _fragment(name: str, template_name: str) -> str:
    if not name.startswith("_"):
        raise VhctlError(f"template {template_name} includes {name!r}: a fragment's name starts with '_'")
    text = _shipped(name, f"template {template_name} includes {name!r}, which is not shipped")
    return text if text.endswith("\n") else text + "\n"


def _shipped(name: str, missing: str) -> str:
    try:
        return resources.files("vhctl_templates").joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise VhctlError(missing) from None


def placeholders(text: str) -> set[str]:
    """The placeholder names a template uses."""
    return set(PLACEHOLDER.findall(text))


def _literal(name: str, value: Any) -> str:
    if value is None or isinstance(value, (str, bool, int)):
        return repr(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    raise VhctlError(f"template value {name} must be text, a number, true/false or empty, "
                     f"not {type(value).__name__}")


def render(template_name: str, values: Mapping[str, Any]) -> str:
    """The script text of the shipped template ``template_name`` with ``values`` filled in."""
    return render_text(template_text(template_name), values, template_name)


def render_text(text: str, values: Mapping[str, Any], template_name: str = "template") -> str:
    """Fill ``values`` into template ``text`` (``template_name`` only names it in errors)."""
    left = INCLUDE.search(text)
    if left:  # values cannot add one: each is a one-line literal
        raise VhctlError(f"template {template_name} keeps the include line of {left.group(1)!r} "
                         "(a fragment includes nothing)")
    wanted = placeholders(text)
    missing = sorted(wanted - set(values))
    unknown = sorted(set(values) - wanted)
    if missing:
        raise VhctlError(f"{template_name} needs values for: {', '.join(missing)}")
    if unknown:
        raise VhctlError(f"{template_name} has no placeholder for: {', '.join(unknown)}")
    for name in values:
        if any(word in name.lower() for word in _SECRET_WORDS):
            raise VhctlError(f"{name}: secrets never go into hub scripts (they are read from the keyring)")
    rendered = PLACEHOLDER.sub(lambda m: _literal(m.group(1), values[m.group(1)]), text)
    if GENERATED_MARK not in rendered.split("\n", 1)[0]:
        raise VhctlError(f"template {template_name} lacks the '{GENERATED_MARK}' first line")
    try:
        compile(rendered, template_name, "exec", dont_inherit=True)
    except SyntaxError as exc:  # a broken template, never a value (values are literals)
        raise VhctlError(f"template {template_name} does not compile: {exc}") from None
    return rendered
