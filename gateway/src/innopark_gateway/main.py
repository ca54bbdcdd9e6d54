"""Gateway application factory.

Request path, outermost first: CORS → request id → rate limit → proxy → the gateway's own
routes. The proxy forwards service prefixes and lets gateway paths through.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from innopark_shared.auth import TokenVerifier
from innopark_shared.metrics import counter, serve_metrics
from innopark_shared.web import create_service_app
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from . import api, portal, service
from .apikeys import KeyExchange
from .config import GatewaySettings, get_settings
from .events import PUBLISHES, subscriptions
from .keys import SigningKey, TokenIssuer
from .models import metadata
from .proxy import ROUTES, ProxyMiddleware, RouteTable, Upstreams
from .ratelimit import (
    FailureBuckets,
    Limiter,
    RateLimitMiddleware,
    RedisTokenBuckets,
    SubjectCache,
    TokenBuckets,
)

log = logging.getLogger(__name__)

# Headers a browser script may read from any answer, proxied ones included.
EXPOSED_HEADERS = [
    "Location",
    "ETag",
    "X-Request-ID",
    "Retry-After",
    "Server-Timing",
    "RateLimit",
    "RateLimit-Policy",
]


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    key = SigningKey.load_or_create(settings.jwt_private_key_path)
    issuer = TokenIssuer(
        key=key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    upstreams = Upstreams(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Runs inside the shared lifespan, so the database is already set up.
        app.state.signing_key = key
        app.state.token_issuer = issuer
        # The gateway's own routes check tokens against its own key, not over HTTP.
        verifier = TokenVerifier(
            jwks=key.jwks(), issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        # Loaded by the shared lifespan from `token_revocations`; the proxy checks it too.
        verifier.revocations = app.state.revocations
        app.state.token_verifier = verifier
        app.state.key_exchange = KeyExchange(
            database=app.state.database,
            issuer=issuer,
            revocations=app.state.revocations,
            token_ttl_seconds=settings.api_key_token_ttl_seconds,
        )
        app.state.upstreams = upstreams
        app.state.login_failures = login_failures
        await upstreams.start()
        upstreams.instrument(app.state.metrics_registry)
        metrics_server = None
        if settings.metrics_port:
            metrics_server, _ = serve_metrics(app, settings.metrics_host, settings.metrics_port)
        try:
            await _bootstrap_operator(app, settings)
            yield
        finally:
            await upstreams.close()
            for store in (buckets, login_failures):
                if isinstance(store, RedisTokenBuckets):
                    await store.close()
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()

    middleware: list[Middleware] = []
    buckets: Limiter | None = None
    if settings.rate_limit_per_minute > 0 and settings.rate_limit_redis_url:
        buckets = RedisTokenBuckets(
            url=settings.rate_limit_redis_url,
            prefix=settings.rate_limit_redis_prefix,
            per_minute=settings.rate_limit_per_minute,
            burst=settings.rate_limit_burst,
        )
    elif settings.rate_limit_per_minute > 0:
        buckets = TokenBuckets(
            per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
        )
    # Failed logins: where the rate limits' buckets live, under a prefix of their own.
    login_failures: FailureBuckets
    if settings.rate_limit_redis_url:
        login_failures = RedisTokenBuckets(
            url=settings.rate_limit_redis_url,
            prefix=f"{settings.rate_limit_redis_prefix}login-failures:",
            per_minute=settings.login_failures_per_minute,
            burst=settings.login_failure_burst,
        )
    else:
        login_failures = TokenBuckets(
            per_minute=settings.login_failures_per_minute, burst=settings.login_failure_burst
        )
    if buckets is not None:
        subjects = SubjectCache(
            public_key=key.public_key,
            kid=key.kid,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        middleware.append(Middleware(RateLimitMiddleware, buckets=buckets, subjects=subjects))
    # One route table: what the proxy forwards, and how its requests' spans are named.
    routes = RouteTable(ROUTES)
    middleware.append(Middleware(ProxyMiddleware, upstreams=upstreams, table=routes))

    app = create_service_app(
        settings=settings,
        metadata=metadata,
        title="Innopark API gateway",
        description=(
            "Identity (users, API clients and keys, OAuth2 tokens, JWKS) and the single "
            "entry point to every Innopark service. The portal at /docs lists every service's API."
        ),
        routers=[APIRouter(lifespan=lifespan), api.router, api.keys_router, portal.router],
        subscriptions=subscriptions,
        publishes=PUBLISHES,
        middleware=middleware,
        docs_url=None,
        openapi_url=None,  # /openapi.json is the merged public document (portal.py)
    )
    # Proxied requests' server spans are named from it too (innopark_shared.tracing).
    app.state.span_details = routes.span_details
    if isinstance(buckets, RedisTokenBuckets):
        buckets.unavailable = counter(
            app,
            "innopark_gateway_ratelimit_unavailable",
            "Requests let through unlimited because Redis could not be reached",
            [],
        )
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
            # Bearer tokens travel in a header, never in cookies.
            allow_credentials=False,
            max_age=600,
        )
    return app


async def _bootstrap_operator(app: FastAPI, settings: GatewaySettings) -> None:
    email, password = settings.bootstrap_admin_email, settings.bootstrap_admin_password
    if not (email and password):
        return
    async with app.state.database.transaction() as session:
        await service.ensure_operator(
            session=session, email=email, password=password.get_secret_value()
        )
