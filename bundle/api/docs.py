"""/docs and /redoc that work on a hub with no Internet access.

FastAPI's default pages load Swagger UI and ReDoc from a public CDN: blank pages on an offline hub, and
the CDN learns of every visit. The assets come instead from the ``fastapi-offline`` package in the hub
venv (maintained, no dependencies beyond FastAPI). Only its files are used, found without importing
it: its app factory mounts Starlette's ``StaticFiles``, which reads files on anyio worker threads,
threads that would outlive `!api stop`. Here each asset is read once, on the first request for it,
and served from memory like every other response of this API.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Dict, Optional

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import Response

ASSET_PACKAGE = "fastapi_offline"
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
PREFIX = "/docs/assets"


def asset_folder() -> Optional[Path]:
    """The package's static folder, or None when the hub venv lacks it (then /docs says so)."""
    spec = importlib.util.find_spec(ASSET_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "static"
    return folder if folder.is_dir() else None


def add_docs(app: FastAPI, title: str) -> None:
    """Serve /docs, /redoc and their assets (the app is made with ``docs_url=None, redoc_url=None``)."""
    folder = asset_folder()
    loaded: Dict[str, bytes] = {}

    def page(html: Any) -> Response:
        if folder is None:
            raise HTTPException(503, f"the documentation pages need the package {ASSET_PACKAGE!r} in the "
                                     "hub venv (run: vhctl install)")
        return html

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> Response:
        return page(get_swagger_ui_html(
            openapi_url="/openapi.json", title=f"{title} - Swagger UI",
            swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js", swagger_css_url=f"{PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/favicon.png"))

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> Response:
        return page(get_redoc_html(openapi_url="/openapi.json", title=f"{title} - ReDoc",
                                   redoc_js_url=f"{PREFIX}/redoc.standalone.js",
                                   redoc_favicon_url=f"{PREFIX}/favicon.png", with_google_fonts=False))

    @app.get(PREFIX + "/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ASSETS or folder is None:
            raise HTTPException(404, "no such asset")
        if name not in loaded:
            loaded[name] = (folder / name).read_bytes()
        return Response(loaded[name], media_type=ASSETS[name],
                        headers={"Cache-Control": "public, max-age=86400"})
