"""Background jobs of the orders service (started by the app factory, state in the DB)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from . import idempotency
from .config import OrdersSettings
from .orders.transitions import expire_due_orders
from .webhooks.delivery import deliver_webhooks

log = logging.getLogger(__name__)


async def expire_orders(app: FastAPI) -> None:
    """Published (or still submitted) orders past their deadline become `expired`; old
    idempotency keys are purged on the same sweep."""
    settings: OrdersSettings = app.state.settings
    database = app.state.database
    while True:
        async with database.transaction() as session:
            expired = await expire_due_orders(session=session)
            await idempotency.purge_expired(session)
        if expired:
            log.info("expired %d orders past their deadline", expired)
        else:
            await asyncio.sleep(settings.expiry_sweep_interval_seconds)


BACKGROUND = [expire_orders, deliver_webhooks]
