"""The application factory every service uses: one shape, one place for the plumbing.

It wires settings, the database, token verification, problem details, request ids,
liveness/readiness, the outbox relay and the consumer runner around a service's routers.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaClient
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, FastAPI, Request, routing
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import TokenVerifier
from .consumer import ConsumerRunner, Subscriptions
from .db import Database
from .errors import install_problem_handlers, problem
from .kafka import client_options
from .logs import configure_logging
from .metrics import install_metrics
from .openapi import describe_api, operation_id
from .outbox import OutboxRelay
from .readmodels.revocations import TABLE as REVOCATIONS_TABLE
from .readmodels.revocations import RevocationList
from .settings import ServiceSettings
from .tracing import NATIVE_TELEMETRY_OFF, configure_tracing, instrument_app, shutdown_tracing

log = logging.getLogger(__name__)


class BrokerProbe:
    """Answers "can this process reach the broker right now?" for readiness."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._client = AIOKafkaClient(**client_options(settings), request_timeout_ms=2000)
        self._bootstrapped = False

    async def check(self) -> None:
        if not self._bootstrapped:
            await asyncio.wait_for(self._client.bootstrap(), timeout=2)
            self._bootstrapped = True
        await asyncio.wait_for(self._client.fetch_all_metadata(), timeout=2)

    async def close(self) -> None:
        await self._client.close()


def create_service_app(
    *,
    settings: ServiceSettings,
    metadata: sa.MetaData,
    title: str,
    description: str = "",
    routers: Sequence[APIRouter],
    subscriptions: Subscriptions | None = None,
    publishes: Sequence[str] = (),
    version: str = "0.1.0",
    messaging: bool = True,
    middleware: Sequence[Middleware] = (),
    docs_url: str | None = "/docs",
    openapi_url: str | None = "/openapi.json",
    webhooks: APIRouter | None = None,
    background: Sequence[Callable[[FastAPI], Awaitable[None]]] = (),
) -> FastAPI:
    """Build a service's app.

    `background`: long-running coroutines `async def job(app)` (expiry sweeps, delivery
    queues) started with the app and cancelled at shutdown; a job that crashes is logged
    and restarted after a pause.

    `messaging=False` is for a part that neither publishes nor consumes (the gateway): no
    outbox relay, no consumer, and readiness does not depend on the broker.
    `middleware` (outermost first) runs inside the request-id middleware, so it sees the
    request id. `docs_url=None` lets a part serve its own docs page, `openapi_url=None` its
    own document. `webhooks` documents the requests the service sends to subscribers
    (OpenAPI 3.1 `webhooks`).
    """
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(settings.service_name, otlp_endpoint=settings.otel_exporter_otlp_endpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            connect_timeout=settings.db_connect_timeout_seconds,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        app.state.database = database
        app.state.token_verifier = TokenVerifier(
            jwks_url=settings.jwks_url, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        # A part whose metadata has the revocations table refuses revoked tokens.
        revocations = None
        table = metadata.tables.get(f"{metadata.schema}.{REVOCATIONS_TABLE}")
        if table is not None:
            revocations = RevocationList(database, table)
            revocations.start()
            try:
                await asyncio.wait_for(revocations.tried.wait(), timeout=5)
            except TimeoutError:
                log.warning("token revocations not read yet; starting anyway")
            app.state.token_verifier.revocations = revocations
        app.state.revocations = revocations
        broker_probe = relay = consumer = None
        if messaging:
            broker_probe = BrokerProbe(settings)
            relay = OutboxRelay(
                settings=settings, database=database, metadata=metadata, topics=list(publishes)
            )
            relay.start()
        app.state.broker_probe = broker_probe
        app.state.relay = relay
        if messaging and subscriptions:
            consumer = ConsumerRunner(
                settings=settings, database=database, metadata=metadata, subscriptions=subscriptions
            )
            consumer.start()
        app.state.consumer = consumer
        jobs = [asyncio.create_task(_keep_running(job, app)) for job in background]
        app.state.shutting_down = False
        settle_heap()
        log.info("%s started on %s:%s", settings.service_name, settings.host, settings.port)
        try:
            yield
        finally:
            # Readiness fails first so load balancers drain; then stop taking events,
            # flush the outbox, and close the pool.
            app.state.shutting_down = True
            for task in jobs:
                task.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            if consumer is not None:
                await consumer.stop()
            if relay is not None:
                await relay.stop()
            if broker_probe is not None:
                await broker_probe.close()
            if revocations is not None:
                await revocations.stop()
            await database.dispose()
            shutdown_tracing()
            log.info("%s stopped", settings.service_name)

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_url=openapi_url,
        docs_url=docs_url,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        # One server span per request, from instrument_app below (probes excluded, query
        # secrets redacted); FastAPI's own telemetry would repeat it.
        telemetry=NATIVE_TELEMETRY_OFF,
    )
    app.state.settings = settings
    if webhooks is not None:
        app.webhooks.include_router(webhooks)
    install_problem_handlers(app)
    _truthful_openapi(app)
    # add_middleware wraps: the last added is outermost. HTTP basics sit innermost, so
    # the gateway's proxy (in `middleware`) forwards HEAD, conditional requests and
    # compressed answers as they are and only the gateway's own routes get them here;
    # Cache-Control outside it covers the proxy's own problems too.
    app.add_middleware(HttpSemanticsMiddleware)
    # Inside the proxy too: a proxied answer comes compressed (or not) from its service
    # and is passed on byte for byte, never compressed a second time or re-chunked.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_SIZE)
    for item in reversed(middleware):
        app.add_middleware(item.cls, *item.args, **item.kwargs)
    app.add_middleware(CacheControlMiddleware)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    install_metrics(app, settings.service_name)  # times everything
    instrument_app(app)  # outermost: the request's span covers everything
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    return app


def _truthful_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_api(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------
# HTTP as clients expect it: compression, HEAD, If-None-Match, Cache-Control, 415.

GZIP_MINIMUM_SIZE = 1024
# Anonymous reads may be kept by shared caches briefly; answers that depend on who asks
# are the caller's alone, and every write's answer (tokens, secrets shown once) is never kept.
PUBLIC_CACHE = "public, max-age=60"
PRIVATE_CACHE = "private, no-cache"
NO_STORE = "no-store"
_CREDENTIALS = (b"authorization", b"x-api-key", b"x-registration-token")


def _etags(value: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in value.split(",") if tag.strip()}


class CacheControlMiddleware:
    """`Cache-Control` where the route did not set one: anonymous successful reads are
    public for a minute, reads with credentials private, everything else `no-store`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        read = scope["method"] in {"GET", "HEAD"}
        credentials = any(name in _CREDENTIALS for name, _ in scope["headers"])

        async def send_with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                if "cache-control" not in headers:
                    status = message["status"]
                    if read and (200 <= status < 300 or status == 304):
                        headers["Cache-Control"] = PRIVATE_CACHE if credentials else PUBLIC_CACHE
                        headers.add_vary_header("Authorization")
                    else:
                        headers["Cache-Control"] = NO_STORE
                    message = {**message, "headers": headers.raw}
            await send(message)

        await self.app(scope, receive, send_with_cache_control)


JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def body_media_types(route: Any) -> tuple[str, ...] | None:
    """The content types a route's body may have; None when it takes no body."""
    from fastapi import params

    field = route.body_field
    if field is None:
        return None
    info = field.field_info
    if isinstance(info, params.Form):  # File is a Form
        return FORM_TYPES
    media_type = getattr(info, "media_type", "application/json")
    return JSON_TYPES if media_type == "application/json" else (media_type,)


def _acceptable(content_type: str, accepted: tuple[str, ...]) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in accepted:
        return True
    return (
        accepted == JSON_TYPES
        and media_type.startswith("application/")
        and (media_type.endswith("+json"))
    )


def _api_routes(scope: Scope) -> list[Any]:
    """The app's API routes in routing order (cached on the app: they are fixed once it
    serves)."""
    app = scope.get("app")
    state = getattr(app, "state", None)
    routes = getattr(state, "api_routes", None) if state is not None else None
    if routes is None:
        found = getattr(getattr(app, "router", None), "routes", ())
        routes = [
            r for r in routing.iter_route_contexts(found) if isinstance(r.original_route, APIRoute)
        ]
        if state is not None:
            state.api_routes = routes
    return routes


class HttpSemanticsMiddleware:
    """HTTP as clients expect it of every route, in one layer (these were four layers,
    which with gzip took 8 % of the CPU of a registry read):

    - **405**: a path answers the methods of its own path item, and only those; another
      method is a 405 problem whose `Allow` lists them (HEAD wherever GET is). Starlette
      would instead send `PATCH /parks/autocomplete` on to `PATCH /parks/{park_id}` (a
      401, or a 422 for the id), and name only one route's methods in `Allow`.
    - **415**: a body in a content type the route does not read is a 415 problem with
      `Accept-Post`/`Accept-Patch` (FastAPI would validate the raw bytes and answer a
      confusing 422).
    - **HEAD** wherever GET is: answered as the GET, with its headers, without the body.
    - **If-None-Match** on a GET whose answer carries an ETag: 304 while it matches.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # By path template and methods: FastAPI hands out a new RouteContext each time.
        self._accepted: dict[tuple[str, frozenset[str]], tuple[str, ...] | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        allowed = _path_items(scope).allowed(scope["path"])
        if allowed is not None and method not in allowed:
            response = problem(
                405, instance=scope["path"], headers={"Allow": ", ".join(sorted(allowed))}
            )
            await response(scope, receive, send)
            return
        if method == "GET" or method == "HEAD":
            wanted = None
            for name, value in scope["headers"]:
                if name == b"if-none-match":
                    wanted = value.decode("latin-1")
            if method == "HEAD":
                scope = {**scope, "method": "GET"}
            if wanted or method == "HEAD":
                send = _answering_reads(send, _etags(wanted) if wanted else None, method == "HEAD")
        elif method != "OPTIONS" and await self._refused_media_type(scope, receive, send):
            return
        await self.app(scope, receive, send)

    async def _refused_media_type(self, scope: Scope, receive: Receive, send: Send) -> bool:
        headers = Headers(scope=scope)
        content_type = headers.get("content-type")
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        if not (content_type and has_body):
            return False
        accepted = self._route_media_types(scope)
        if accepted is None or _acceptable(content_type, accepted):
            return False
        response = problem(
            415,
            slug="unsupported-media-type",
            detail=f"This operation reads {', '.join(accepted)}, not {content_type}",
            instance=scope["path"],
            headers={
                "Accept-Post" if scope["method"] == "POST" else "Accept-Patch": (
                    ", ".join(accepted)
                )
            },
        )
        await response(scope, receive, send)
        return True

    def _route_media_types(self, scope: Scope) -> tuple[str, ...] | None:
        for route in _api_routes(scope):
            if route.matches(scope)[0] is Match.FULL:
                key = (route.path_format, frozenset(route.methods or ()))
                if key not in self._accepted:
                    self._accepted[key] = body_media_types(route)
                return self._accepted[key]
        return None


def _answering_reads(send: Send, candidates: set[str] | None, head: bool) -> Send:
    """`send` for a GET (or a HEAD answered as one): a 200 whose ETag is among
    `candidates` becomes a 304 without a body; for a HEAD, every body is dropped."""
    not_modified = False

    async def send_read(message: Message) -> None:
        nonlocal not_modified
        if message["type"] == "http.response.start" and message["status"] == 200 and candidates:
            headers = MutableHeaders(raw=list(message.get("headers", [])))
            etag = headers.get("etag")
            if etag and ("*" in candidates or etag.removeprefix("W/") in candidates):
                not_modified = True
                del headers["content-length"]
                del headers["content-type"]
                await send({**message, "status": 304, "headers": headers.raw})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
        if message["type"] == "http.response.body":
            if not_modified:
                return  # the body of the answer replaced by the 304
            if head:
                message = {**message, "body": b""}
        await send(message)

    return send_read


class _PathItems:
    """The app's path templates in routing order, as one regular expression: the first
    template matching a path is one match, not a scan of every route (2 % of a read)."""

    def __init__(self, routes: list[Any]) -> None:
        methods: dict[str, set[str]] = {}
        patterns: dict[str, str] = {}
        for route in routes:
            methods.setdefault(route.path_format, set()).update(route.methods or ())
            # Named groups would clash across templates; only which template matched counts.
            patterns.setdefault(
                route.path_format, re.sub(r"\(\?P<[^>]+>", "(?:", route.path_regex.pattern)
            )
        self._allowed = [
            frozenset(methods[t] | ({"HEAD"} if "GET" in methods[t] else set())) for t in patterns
        ]
        self._regex = re.compile(
            "|".join(f"(?P<t{i}>{pattern})" for i, pattern in enumerate(patterns.values()))
        )

    def allowed(self, path: str) -> frozenset[str] | None:
        """The methods of the path item `path` belongs to; None outside every template."""
        found = self._regex.match(path)  # no templates: "" matches, naming no group
        if found is None or found.lastgroup is None:
            return None
        return self._allowed[int(found.lastgroup[1:])]


def _path_items(scope: Scope) -> _PathItems:
    app = scope.get("app")
    state = getattr(app, "state", None)
    items = getattr(state, "path_items", None) if state is not None else None
    if items is None:
        items = _PathItems(_api_routes(scope))
        if state is not None:
            state.path_items = items
    return items


# Collect the youngest generation after this many new container objects rather than
# Python's 700: a request allocates a few thousand, so the default collected several
# times per request (py-spy: 8-10 % of a read). The older generations follow the default.
GC_THRESHOLDS = (7000, 10, 10)


def settle_heap() -> None:
    """Once the app has started: collect what startup left, move everything still alive
    (modules, routes, models, the pool) out of the collector's sight (`gc.freeze`), and
    collect the young generation less often.

    Before, every full collection walked the hundreds of thousands of objects an app
    keeps for its whole life: a pause of tens of milliseconds that made the p99 of a
    registry read 90 ms where its p50 was 7 ms, and about 15 % of its CPU time. Frozen
    objects are still freed when nothing refers to them; only a cycle among them would
    stay, and they live as long as the process anyway."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _keep_running(job: Callable[[FastAPI], Awaitable[None]], app: FastAPI) -> None:
    name = getattr(job, "__name__", repr(job))
    while True:
        try:
            await job(app)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job %s crashed; restarting in 5s", name)
            await asyncio.sleep(5)


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/livez", summary="Liveness: the process answers")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database and broker reachable")
    async def readyz(request: Request) -> JSONResponse:
        state = request.app.state
        checks: dict[str, Any] = {}
        ok = not getattr(state, "shutting_down", True)
        if not ok:
            checks["shutdown"] = "in progress"
        try:
            await asyncio.wait_for(state.database.ping(), timeout=2)
            checks["database"] = "ok"
        except Exception as exc:
            ok = False
            checks["database"] = f"error: {type(exc).__name__}"
        probe: BrokerProbe | None = state.broker_probe
        if probe is not None:
            try:
                await probe.check()
                checks["broker"] = "ok"
            except Exception as exc:
                ok = False
                checks["broker"] = f"error: {type(exc).__name__}"
        relay: OutboxRelay | None = state.relay
        if relay is not None:
            checks["outbox"] = {"published": relay.published, "last_error": relay.last_error}
        consumer: ConsumerRunner | None = state.consumer
        if consumer is not None:
            checks["consumer"] = {
                "connected": consumer.connected,
                "assigned_partitions": consumer.assigned_partitions(),
                "processed": consumer.processed,
                "duplicates": consumer.duplicates,
                "dead_lettered": consumer.dead_lettered,
                "lag_seconds": consumer.last_event_lag_seconds,
                "lag_messages": await consumer.offset_lag(),
            }
        if ok:
            return JSONResponse({"status": "ok", "checks": checks})
        return problem(503, slug="not-ready", detail="Not ready", checks=checks)

    return router
