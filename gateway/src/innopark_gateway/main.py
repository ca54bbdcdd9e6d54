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
from innopark_shared.web import create_service_app
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from . import api, portal, service
from .config import GatewaySettings, get_settings
from .keys import SigningKey, TokenIssuer
from .models import metadata
from .proxy import ProxyMiddleware, Upstreams
from .ratelimit import RateLimitMiddleware, SubjectCache, TokenBuckets

log = logging.getLogger(__name__)

# Headers a browser script may read from any answer, proxied ones included.
EXPOSED_HEADERS = [
    "Location",
    "ETag",
    "X-Request-ID",
    "Retry-After",
    "Server-Timing",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
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
        app.state.token_verifier = TokenVerifier(
            jwks=key.jwks(), issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        app.state.upstreams = upstreams
        app.state.login_failures = TokenBuckets(
            per_minute=settings.login_failures_per_minute, burst=settings.login_failure_burst
        )
        await upstreams.start()
        try:
            await _bootstrap_operator(app, settings)
            yield
        finally:
            await upstreams.close()

    middleware: list[Middleware] = []
    if settings.rate_limit_per_minute > 0:
        buckets = TokenBuckets(
            per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
        )
        subjects = SubjectCache(
            public_key=key.public_key,
            kid=key.kid,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        middleware.append(Middleware(RateLimitMiddleware, buckets=buckets, subjects=subjects))
    middleware.append(Middleware(ProxyMiddleware, upstreams=upstreams))

    app = create_service_app(
        settings=settings,
        metadata=metadata,
        title="Innopark API gateway",
        description=(
            "Identity (users, API clients, OAuth2 tokens, JWKS) and the single entry point "
            "to every Innopark service. The portal at /docs lists every service's API."
        ),
        routers=[APIRouter(lifespan=lifespan), api.router, api.keys_router, portal.router],
        messaging=False,
        middleware=middleware,
        docs_url=None,
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
