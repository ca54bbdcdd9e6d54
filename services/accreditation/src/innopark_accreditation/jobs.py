"""Background jobs the app runs beside its routes (on every replica; they coordinate in the
database)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from fastapi import FastAPI
from innopark_shared.db import Database

from .certificates.alerts import raise_alerts
from .certificates.service import expire_due_certificates
from .config import AccreditationSettings

log = logging.getLogger(__name__)


async def expire_certificates(app: FastAPI) -> None:
    """Expiry happens on its own: sweep for certificates past their valid-until date; the
    same sweep raises the alerts (expiring soon, monitoring report overdue), each mailed
    to the park once."""
    database: Database = app.state.database
    settings: AccreditationSettings = app.state.settings
    interval = settings.expiry_sweep_interval_seconds
    while True:
        today = datetime.now(UTC).date()
        async with database.transaction() as session:
            expired = await expire_due_certificates(session=session, today=today)
        if expired:
            log.info("expired %d certificate(s)", expired)
            continue  # there may be more than one batch
        async with database.transaction() as session:
            raised = await raise_alerts(session=session, today=today, settings=settings)
        if raised:
            log.info("raised %d certificate alert(s)", raised)
        await asyncio.sleep(interval)
