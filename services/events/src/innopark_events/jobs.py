"""Background jobs the app runs beside its routes."""

import asyncio
import logging

from fastapi import FastAPI

from .events.service import sweep_lifecycle

log = logging.getLogger(__name__)


async def lifecycle_sweep(app: FastAPI) -> None:
    """Close registration and complete events as their times pass."""
    interval = app.state.settings.lifecycle_sweep_interval_seconds
    while True:
        async with app.state.database.transaction() as session:
            swept = await sweep_lifecycle(session=session)
        if swept.closed or swept.completed:
            log.info(
                "lifecycle sweep: %d closed for registration, %d completed",
                swept.closed,
                swept.completed,
            )
        await asyncio.sleep(interval)
