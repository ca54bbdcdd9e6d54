"""Events application factory."""

import asyncio
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from innopark_shared.errors import problem
from innopark_shared.web import create_service_app
from sqlalchemy import exc as sa_exc

from . import service
from .api import router
from .config import get_settings
from .events import PUBLISHES, subscriptions
from .models import metadata

log = logging.getLogger(__name__)


async def lifecycle_sweep(app: FastAPI) -> None:
    """Background job: close registration and complete events as their times pass."""
    settings = get_settings()
    while True:
        async with app.state.database.transaction() as session:
            closed, completed = await service.sweep_lifecycle(session=session)
        if closed or completed:
            log.info("lifecycle sweep: %d closed for registration, %d completed",
                     closed, completed)
        await asyncio.sleep(settings.lifecycle_sweep_interval_seconds)


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    # Every pooled connection busy for pool_timeout: an overload, not a bug. Say so, and
    # when to retry, instead of a bare 500. (Belongs in shared's handlers.)
    return problem(503, slug="overloaded", detail="The service is overloaded; retry shortly",
                   instance=request.url.path, headers={"Retry-After": "2"})


def create_app() -> FastAPI:
    app = create_service_app(
        settings=get_settings(),
        metadata=metadata,
        title="Innopark Events",
        description="Training, forums, delegations and study tours, with registration.",
        routers=[router],
        subscriptions=subscriptions,
        publishes=PUBLISHES,
        background=[lifecycle_sweep],
    )
    app.add_exception_handler(sa_exc.TimeoutError, _pool_exhausted)
    return app
