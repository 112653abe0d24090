"""A schemathesis check of our own (loaded by the fuzz test with SCHEMATHESIS_HOOKS): no private value
(ip, host, e-mail) in any response to a request without the token."""

from __future__ import annotations

import json
from typing import Any, Iterator

import schemathesis

PRIVATE = ("ip", "host", "email")


def _private_values(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in PRIVATE and inner is not None:
                yield f"{key}={inner!r}"
            yield from _private_values(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _private_values(inner)


@schemathesis.check
def no_private_values_without_the_token(ctx: Any, response: Any, case: Any) -> None:
    if any(k.lower() == "authorization" for k in (case.headers or {})) or \
            "authorization" in {k.lower() for k in response.request.headers}:
        return
    if "json" not in response.headers.get("content-type", [""])[0]:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        return
    found = list(_private_values(body))
    if found:
        raise AssertionError(f"private values without the token: {', '.join(found[:3])}")
