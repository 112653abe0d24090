"""HTTP questions to the running hub's API and to Matterbridge, shared by `status` and `doctor`.

One short connection per question (http.client: the standard library is all the CLI needs for a
GET), the token only ever in the Authorization header, never in a result or a message.
"""

from __future__ import annotations

import http.client
import json
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit


class HttpRefused(ValueError):
    """An answer other than 200."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def http_get(host: str, port: int, path: str, token: Optional[str], timeout: float,
             limit: Optional[int] = None) -> Tuple[int, bytes]:
    """GET ``path``: the status and the body (its first ``limit`` bytes when given)."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = connection.getresponse()
        return response.status, response.read() if limit is None else response.read(limit)
    finally:
        connection.close()


def get_json(host: str, port: int, path: str, token: Optional[str], timeout: float) -> Any:
    """GET ``path`` and decode its JSON; any answer but 200 raises ``HttpRefused``."""
    status, body = http_get(host, port, path, token, timeout)
    if status != 200:
        raise HttpRefused(status)
    return json.loads(body)


def probe_matterbridge(url: str, token: Optional[str], timeout: float) -> Dict[str, Any]:
    """GET {url}/api/health with the Matterbridge token (never shown): whether Matterbridge answers
    and takes our token. It answers 400 without a token and 401 to a wrong one (M11)."""
    result: Dict[str, Any] = {"url": url, "ok": False, "http_status": None, "token_sent": bool(token)}
    parts = urlsplit(url)
    try:
        code, _ = http_get(parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/") + "/api/health",
                           token, timeout, limit=256)
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return {**result, "message": f"{url} does not answer ({reason})"}
    result["http_status"] = code
    if code == 200:
        return {**result, "ok": True,
                "message": f"{url} answers" + (" and accepts our token" if token else " (it asks for no token)")}
    if code == 400:
        message = ("it wants a token and none is stored" if not token else
                   "it refuses the form of our token")
    elif code == 401:
        message = "it refuses our Matterbridge token (the Token in its [api] section differs)"
    else:
        message = f"{url}/api/health answered HTTP {code}: is bridge.url Matterbridge's API address?"
    return {**result, "message": message}
