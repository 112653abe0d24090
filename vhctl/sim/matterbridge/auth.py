"""The bearer-token check that runs in front of every route, unknown ones included (M9-M12, M63).

It is echo's key-auth middleware as v1.26.0 configures it: the scheme prefix ``Bearer `` is matched
case-insensitively with exactly one space, the rest is the key, compared exactly (here in constant
time). Query parameters and subprotocol headers are never looked at (M10, M63).
"""

from __future__ import annotations

import hmac

PREFIX = "bearer "

MISSING = (400, "missing key in request header")
INVALID = (400, "invalid key in the request header")
UNAUTHORIZED = (401, "Unauthorized")


def check(token: str | None, authorization: str | None) -> tuple[int, str] | None:
    """None when the request may pass, else (status, message) for the JSON error body (M11).

    ``authorization`` is the header's bytes decoded as latin-1 (one char per byte).
    """
    if not token:
        return None  # M12: no Token, every endpoint open, any header ignored
    if not authorization:
        return MISSING
    value = authorization.rstrip(" \t")  # the HTTP layer trims trailing whitespace (M10)
    if len(value) <= len(PREFIX) or value[:len(PREFIX)].lower() != PREFIX:
        return INVALID
    key = value[len(PREFIX):]
    if not hmac.compare_digest(key.encode("latin-1"), token.encode("utf-8")):
        return UNAUTHORIZED
    return None
