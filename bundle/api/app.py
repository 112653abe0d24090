"""The FastAPI application: routes, the auth rule, validation errors, ETags, request metrics.

Importing this module imports FastAPI and pydantic. The component imports it on the hub thread at
registration (``webstack.load``), which is where the plugin's sub-interpreter mode refuses pydantic on
a second load (A10); everything else of the component works without it.

Every handler is ``async def`` and returns pre-rendered bytes (``views``): no handler runs in a thread
pool (no extra threads to leak on stop), no per-request serialization of user lists, and nothing here
ever calls vh (the runtime's guard would refuse it anyway). The pydantic models below only document
the responses in /docs; they are never used to serialize.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

import fastapi.openapi.docs  # imported now, not lazily on a server thread (see webstack)
import fastapi.openapi.utils  # noqa: F401
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.middleware.cors import CORSMiddleware

from vhctl_hub import __version__
from vhctl_hub.api import sse
from vhctl_hub.api.auth import AuthResult, TokenKeeper
from vhctl_hub.api.docs import add_docs
from vhctl_hub.api.head import HeadAsGet
from vhctl_hub.api.pacer import Pacer
from vhctl_hub.api.metrics import CONTENT_TYPE, Exposition, Reading, RequestCounter
from vhctl_hub.api.views import PRIVATE_FIELDS, Body, SnapshotView, Views, dumps, iso_utc
from vhctl_hub.config import ApiSettings
from vhctl_hub.events import EventFeed
from vhctl_hub.snapshot import HubSnapshot

#: Most simultaneous /api/events streams; more get 503 (each one polls the feed a few times a second).
MAX_STREAMS = 64
#: /health says "degraded" when the hub has not confirmed the cache for this long, seconds.
STALE_AFTER = 10.0
JSON = "application/json"

DESCRIPTION = """
Read-only information about this Verlihub hub, served by vhctl from a cache the hub thread keeps
(no request ever calls into the hub).

**Numbers and why they can differ.** `users_online` is the hub's own counter (`vh.GetUsersCount`):
real connections only, no bots, and it may include users still logging in. `total_share` is the hub's
total (`vh.GetTotalShareSize`). The user list (`/api/users`) holds logged-in users only; bots are in
`/api/bots`. So the number of listed users and the sum of their `share`s (`listed_users_total` in
`/api/share`) can differ from the hub's figures: bots are not users and their shares are not in the
hub total, users whose share the hub hides are listed with it but not counted in the total, and users
in the middle of logging in are counted but not yet listed. Each user's `share` comes from their
MyINFO (the 6-tuple of `vh.GetMyINFO`, and the MyINFO hook afterwards).

**Private fields.** `ip`, `host` and `email` are `null` unless the request carries
`Authorization: Bearer <token>` (the token is in the hub user's keyring; `vhctl token` creates it).
A wrong or malformed token gets 401 on every `/api/...` endpoint; `/health` never needs one.
`host` is known only when the hub resolves hosts itself (its `dns_lookup` setting); otherwise it
stays `null` even with the token, because asking the hub would block it on a DNS lookup.

**Caching.** List endpoints send an `ETag`; send it back in `If-None-Match` to get `304`.
Times are ISO 8601 in UTC. Users are listed in the order of the hub cache (normally login order).
"""

ENDPOINTS = {
    "/api/hub": "hub name, description, topic, max users, version",
    "/api/stats": "users online, total share, cache age",
    "/api/users?limit=N&offset=N": "online users, paginated (bots excluded)",
    "/api/user/{nick}": "one online user (percent-encode the nick)",
    "/api/ops": "operators (users) and operator bots",
    "/api/bots": "robots in the user list",
    "/api/geo": "users per country",
    "/api/share": "total and average share",
    "/api/events": "Server-Sent Events: logins, logouts, MyINFO and stats changes",
    "/api/auth": "check a token (401 without a valid one)",
    "/metrics": "Prometheus metrics",
    "/health": "health check (no token needed)",
    "/docs": "interactive documentation", "/openapi.json": "OpenAPI schema",
}


# ------------------------------------------------------------------------------ documentation models
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class UserModel(_Open):
    nick: str
    user_class: int = Field(alias="class")
    class_name: str
    ip: Optional[str] = Field(None, description="token only")
    host: Optional[str] = Field(None, description="token only")
    country_code: Optional[str]
    country: Optional[str]
    description: str
    tag: str
    email: Optional[str] = Field(None, description="token only")
    share: int = Field(description="bytes, from the user's MyINFO")
    share_formatted: str


class UsersModel(_Open):
    count: int
    total: int
    users: List[UserModel]


class StatsModel(_Open):
    timestamp: str
    users_online: int
    max_users: int
    total_share: str = Field(description='formatted, e.g. "10.35 GB"')
    total_share_bytes: int
    hub_name: str
    cache_age: float


class HubModel(_Open):
    name: str
    description: str
    topic: str
    max_users: int
    version: str


class ShareModel(_Open):
    total: int
    total_formatted: str
    average: int
    average_formatted: str


class GeoRow(_Open):
    country_code: str
    country: Optional[str]
    users: int


class GeoModel(_Open):
    total_countries: int
    distribution: List[GeoRow]


class OpsModel(_Open):
    count: int
    ops: List[UserModel]
    bots: List[str]


class BotsModel(_Open):
    count: int
    bots: List[Dict[str, Any]]


class Problem(_Open):
    detail: Any


# ------------------------------------------------------------------------------ the app
@dataclass
class AppDeps:
    """What the app reads; all of it safe off the hub thread."""

    views: Views
    keeper: TokenKeeper
    requests: RequestCounter
    feed: EventFeed
    settings: ApiSettings
    cache_age: Callable[[HubSnapshot], float]
    health: Callable[[], Optional[Mapping[str, Any]]]
    stopping: Callable[[], threading.Event]  # the current server run's stop signal
    pacer: Pacer = field(default_factory=Pacer)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="vhctl"'})


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


class _Middleware:
    """Paces the server thread before each request (``pacer``: the hub thread gets the GIL at once);
    counts requests by route template and status; adds ``X-Content-Type-Options: nosniff``.

    A plain ASGI middleware (Starlette's BaseHTTPMiddleware costs a task per request)."""

    def __init__(self, app: Any, requests: RequestCounter, pacer: Pacer) -> None:
        self.app = app
        self.requests = requests
        self.pacer = pacer

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.pacer.pace()
        status = 500

        async def send_wrapper(message: Dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            self.requests.record(getattr(route, "path_format", None) or "other", status)


def build_app(deps: AppDeps) -> FastAPI:
    """The application over ``deps``, with its OpenAPI schema already generated.

    Built once per component, on the hub thread at registration (see ``webstack``: no lazy imports
    on server threads), and served by every run of the server."""
    settings = deps.settings
    title = "Verlihub hub API (vhctl)"
    app = FastAPI(title=title, version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  responses={401: {"model": Problem, "description": "wrong or malformed token"}})
    add_docs(app, title)

    def auth(request: Request) -> AuthResult:
        result = deps.keeper.check(request.headers.get("authorization"))
        if result.error:
            raise _unauthorized(result.error)
        return result

    def send(request: Request, body: Body, private: bool) -> Response:
        content, etag = body
        headers = {"ETag": etag, "Vary": "Authorization",
                   "Cache-Control": "private, no-cache" if private else "no-cache"}
        match = request.headers.get("if-none-match")
        if match and _etag_matches(match, etag):
            return Response(status_code=304, headers=headers)
        return Response(content, media_type=JSON, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = jsonable_encoder(exc.errors())
        message = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
                            for e in errors)
        return Response(dumps({"detail": errors, "message": message}), status_code=422, media_type=JSON)

    @app.get("/", summary="Overview of the endpoints")
    async def root() -> Response:
        return Response(overview, media_type=JSON)

    overview = dumps({"name": "Verlihub hub API (vhctl)", "version": __version__, "docs": "/docs",
                      "endpoints": ENDPOINTS, "private_fields": list(PRIVATE_FIELDS),
                      "auth": "Authorization: Bearer <token> (see `vhctl token`) for private fields"})

    @app.get("/health", summary="Health check (never needs a token)")
    async def health() -> Response:
        snapshot = deps.views.current().snapshot
        age = deps.cache_age(snapshot)
        fresh = age <= STALE_AFTER
        return Response(dumps({
            "status": "healthy" if fresh else "degraded", "timestamp": iso_utc(time.time()),
            "cache_age": round(age, 3), "cache_complete": snapshot.complete,
            "snapshot_seq": snapshot.seq, "snapshot_events": snapshot.events,
            "hub_events": snapshot.clock.value, "cache_current": snapshot.current,
            "hub_thread": "ok" if fresh else "not confirming the cache"}), media_type=JSON)

    @app.get("/api/stats", response_model=StatsModel, summary="Users online, total share, cache age")
    async def stats(request: Request) -> Response:
        auth(request)
        view = deps.views.current()
        body = view.stats(time.time(), deps.cache_age(view.snapshot))
        return Response(body, media_type=JSON, headers={"Cache-Control": "no-store"})

    @app.get("/api/users", response_model=UsersModel, summary="Online users (bots excluded)")
    async def users(request: Request,
                    limit: Optional[int] = Query(None, ge=0, description=f"page size (default and most: "
                                                 f"{settings.max_limit}, the api.max_limit setting)"),
                    offset: int = Query(0, ge=0, description="users to skip")) -> Response:
        private = auth(request).ok
        size = settings.max_limit if limit is None else min(limit, settings.max_limit)
        return send(request, deps.views.current().users_page(offset, size, private), private)

    @app.get("/api/user/{nick:path}", response_model=UserModel,
             responses={404: {"model": Problem, "description": "not online"}}, summary="One online user")
    async def user(request: Request, nick: str) -> Response:
        private = auth(request).ok
        body = deps.views.current().user(nick, private)
        if body is None:
            raise HTTPException(404, f"User '{nick}' not found")
        return send(request, body, private)

    def snapshot_route(path: str, model: Any, summary: str,
                       body: Callable[[SnapshotView, bool], Body]) -> None:
        """A GET endpoint whose body is one of the snapshot's pre-rendered ones (with ETag)."""
        async def endpoint(request: Request) -> Response:
            private = auth(request).ok
            return send(request, body(deps.views.current(), private), private)

        app.add_api_route(path, endpoint, methods=["GET"], response_model=model, summary=summary,
                          name=path.rsplit("/", 1)[1])

    snapshot_route("/api/hub", HubModel, "Hub information", lambda view, private: view.hub())
    snapshot_route("/api/ops", OpsModel, "Operators", lambda view, private: view.ops(private))
    snapshot_route("/api/bots", BotsModel, "Robots (not counted as users)", lambda view, private: view.bots())
    snapshot_route("/api/geo", GeoModel, "Users per country", lambda view, private: view.geo())
    snapshot_route("/api/share", ShareModel, "Total and average share", lambda view, private: view.share())

    @app.get("/api/auth", summary="Check a token: 200 with a valid one, else 401")
    async def check_token(request: Request) -> Response:
        result = auth(request)
        if not result.ok:
            raise _unauthorized("this endpoint needs 'Authorization: Bearer <token>'")
        return Response(dumps({"authenticated": True, "private_fields": list(PRIVATE_FIELDS),
                               "chat_events": settings.chat_events}), media_type=JSON)

    streams = {"open": 0}

    def release_stream(slot: Dict[str, bool]) -> None:
        if not slot["released"]:
            slot["released"] = True
            streams["open"] -= 1

    @app.get("/api/events", summary="Server-Sent Events of logins, logouts, MyINFO and stats changes",
             response_class=StreamingResponse)
    async def events(request: Request) -> Response:
        private = auth(request).ok
        # Checked and taken with no await between (one event loop): a burst cannot pass the cap. The
        # place is given back when the stream ends or, if it never started, when the response is done.
        if streams["open"] >= MAX_STREAMS:
            raise HTTPException(503, f"too many event streams open (at most {MAX_STREAMS})",
                                headers={"Retry-After": "5"})
        streams["open"] += 1
        slot = {"released": False}
        cursor = sse.start_cursor(request.headers.get("last-event-id"), deps.feed)
        stopping = deps.stopping()

        async def body() -> Any:
            try:
                async for chunk in sse.stream(deps.feed, cursor, private, private and settings.chat_events,
                                              stopping):
                    yield chunk
            finally:
                release_stream(slot)

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
                                 background=BackgroundTask(release_stream, slot))

    def scrape() -> Reading:
        snapshot = deps.views.current().snapshot
        return Reading(snapshot, deps.cache_age(snapshot), deps.requests, deps.health(), deps.pacer.paused)

    exposition = Exposition(scrape)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        auth(request)
        return Response(exposition.render(), media_type=CONTENT_TYPE)

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET"],
                           allow_headers=["Authorization", "If-None-Match", "Last-Event-ID"],
                           expose_headers=["ETag"], allow_credentials=False)
    app.add_middleware(HeadAsGet)
    app.add_middleware(_Middleware, requests=deps.requests, pacer=deps.pacer)
    app.openapi()
    return app
