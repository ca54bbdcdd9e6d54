"""Streamed CSV export of residents, read in chunks through its own transaction (the
request's transaction is committed before a streamed body starts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from innopark_shared.auth import Principal
from innopark_shared.csvstream import csv_chunks
from innopark_shared.db import Database

from ..models import Resident
from .presenters import reads_contacts
from .queries import stream_residents
from .schemas import ResidentFilters

RESIDENT_CSV_COLUMNS = [
    "id",
    "park_id",
    "name",
    "name_en",
    "legal_id",
    "stage",
    "technologies",
    "sectors",
    "employees",
    "products_count",
    "patents_count",
    "know_how_count",
    "website",
    "contact_email",
    "admitted_on",
    "left_on",
    "status",
]


def _resident_row(r: Resident, viewer: Principal | None) -> list[Any]:
    return [
        r.id,
        r.park_id,
        r.name,
        r.name_en,
        r.legal_id,
        r.stage,
        ";".join(r.technologies),
        ";".join(r.sectors),
        r.employees,
        r.products_count,
        r.patents_count,
        r.know_how_count,
        r.website,
        r.contact_email if reads_contacts(viewer, r) else None,
        r.admitted_on,
        r.left_on,
        r.status,
    ]


async def residents_csv(
    database: Database, filters: ResidentFilters, viewer: Principal | None
) -> AsyncIterator[bytes]:
    """The rows as the API shows them to `viewer` (contacts only to the resident's circle)."""

    async def rows() -> AsyncIterator[list[Any]]:
        async with database.transaction() as session:
            async for resident in stream_residents(session=session, filters=filters):
                yield _resident_row(resident, viewer)

    async for chunk in csv_chunks(RESIDENT_CSV_COLUMNS, rows()):
        yield chunk
