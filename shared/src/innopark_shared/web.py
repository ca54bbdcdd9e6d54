"""The application factory every service uses: one shape, one place for the plumbing.

It wires settings, the database, token verification, problem details, request ids,
liveness/readiness, the outbox relay and the consumer runner around a service's routers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaClient
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware

from .auth import TokenVerifier
from .consumer import ConsumerRunner, Subscriptions
from .db import Database
from .errors import install_problem_handlers, problem
from .logs import configure_logging
from .metrics import install_metrics
from .outbox import OutboxRelay
from .settings import ServiceSettings

log = logging.getLogger(__name__)


class BrokerProbe:
    """Answers "can this process reach the broker right now?" for readiness."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000)
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
    background: Sequence[Callable[[FastAPI], Awaitable[None]]] = (),
) -> FastAPI:
    """Build a service's app.

    `background`: long-running coroutines `async def job(app)` (expiry sweeps, delivery
    queues) started with the app and cancelled at shutdown; a job that crashes is logged
    and restarted after a pause.

    `messaging=False` is for a part that neither publishes nor consumes (the gateway): no
    outbox relay, no consumer, and readiness does not depend on the broker.
    `middleware` (outermost first) runs inside the request-id middleware, so it sees the
    request id. `docs_url=None` lets a part serve its own docs page.
    """
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        app.state.database = database
        app.state.token_verifier = TokenVerifier(
            jwks_url=settings.jwks_url, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        broker_probe = relay = consumer = None
        if messaging:
            broker_probe = BrokerProbe(settings.kafka_bootstrap_servers)
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
            await database.dispose()
            log.info("%s stopped", settings.service_name)

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=docs_url,
        redoc_url=None,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    for item in reversed(middleware):  # add_middleware wraps: the last added is outermost
        app.add_middleware(item.cls, *item.args, **item.kwargs)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    install_metrics(app, settings.service_name)  # outermost: times everything
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    return app


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
