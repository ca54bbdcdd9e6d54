"""Background jobs the app runs beside its routes (on every replica; they coordinate in the
database)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from fastapi import FastAPI
from innopark_shared.db import Database

from .certificates.service import expire_due_certificates

log = logging.getLogger(__name__)


async def expire_certificates(app: FastAPI) -> None:
    """Expiry happens on its own: sweep for certificates past their valid-until date."""
    database: Database = app.state.database
    interval = app.state.settings.expiry_sweep_interval_seconds
    while True:
        async with database.transaction() as session:
            expired = await expire_due_certificates(session=session, today=datetime.now(UTC).date())
        if expired:
            log.info("expired %d certificate(s)", expired)
            continue  # there may be more than one batch
        await asyncio.sleep(interval)
