"""HEAD answered like GET on every GET endpoint (uptime monitors use HEAD; FastAPI routes GET only).

A plain ASGI middleware: a HEAD request goes to the app as a GET; the response's status and headers
(Content-Length included) go out as they are, its body does not. After the head of the response the
app's further sends fail as they would for a client that went away, so an endless response (the
event stream) ends at once.
"""

from __future__ import annotations

from typing import Any, Dict


class ClientGone(OSError):
    """What a HEAD response's body send raises: nothing more is wanted."""


class HeadAsGet:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        done = False

        async def head_only(message: Dict[str, Any]) -> None:
            nonlocal done
            if done:
                raise ClientGone("HEAD: the body is not sent")
            if message["type"] == "http.response.body":
                done = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        try:
            await self.app({**scope, "method": "GET"}, receive, head_only)
        except Exception:  # after the head, the app's "client went away" in any form
            if not done:
                raise
