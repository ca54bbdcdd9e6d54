"""The attendee list as streamed CSV (organisers), formulas neutralised."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import sqlalchemy as sa
from innopark_shared.csvstream import csv_chunks
from innopark_shared.db import Database

from ..models import Registration

CSV_COLUMNS = [
    "registration_id",
    "full_name",
    "email",
    "organisation",
    "position",
    "phone",
    "status",
    "ticket_code",
    "checked_in_at",
    "registered_at",
]


async def attendee_csv(database: Database, event_id: uuid.UUID) -> AsyncIterator[bytes]:
    """CSV rows streamed from the database with a session of its own (the request's
    transaction has ended by the time the body is sent)."""

    async def rows() -> AsyncIterator[tuple]:
        stmt = (
            sa.select(Registration)
            .where(Registration.event_id == event_id)
            .order_by(Registration.seq)
            .execution_options(yield_per=500)
        )
        async with database.transaction() as session:
            async for r in await session.stream_scalars(stmt):
                yield (
                    r.id,
                    r.full_name,
                    r.email,
                    r.organisation,
                    r.position,
                    r.phone,
                    r.status,
                    r.ticket_code,
                    r.checked_in_at,
                    r.created_at,
                )

    async for chunk in csv_chunks(CSV_COLUMNS, rows()):
        yield chunk
