"""The residents read model: the registry's resident events, kept for matching (tags and
full text) and for proposers' names and contacts. The latest event wins, whatever order
redeliveries arrive in."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from innopark_shared.contracts.registry import ResidentAdmittedV1, ResidentLeftV1
from innopark_shared.readmodels import newer_wins_upsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import KnownResident

# The text search configuration of residents' documents and of the orders matched to them.
TEXT_CONFIG = "english"


def resident_search_vector(
    name: str, technologies: list[str], sectors: list[str], description: str | None
) -> sa.ColumnElement:
    text = " ".join([name, " ".join(technologies), " ".join(sectors), description or ""])
    return sa.func.to_tsvector(sa.literal_column(f"'{TEXT_CONFIG}'::regconfig"), text)


async def apply_resident_snapshot(
    session: AsyncSession, event: ResidentAdmittedV1, event_time: datetime | None
) -> None:
    """Upsert from a resident admitted/updated event (ResidentUpdatedV1 extends it)."""
    source_time = event_time or datetime.now(UTC)
    values = {
        "resident_id": event.resident_id,
        "park_id": event.park_id,
        "name": event.name,
        "technologies": list(event.technologies),
        "sectors": list(event.sectors),
        "tags": sorted(
            {t.strip().lower() for t in [*event.technologies, *event.sectors] if t.strip()}
        ),
        "description": event.description,
        "contact_email": event.contact_email,
        "stage": event.stage,
        "search": resident_search_vector(
            event.name, event.technologies, event.sectors, event.description
        ),
        "left": False,
        "source_time": source_time,
        "synced_at": sa.func.now(),
    }
    stmt = pg_insert(KnownResident).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["resident_id"],
            set_={k: stmt.excluded[k] for k in values if k != "resident_id"},
            where=KnownResident.source_time <= stmt.excluded.source_time,
        )
    )


async def apply_resident_left(
    session: AsyncSession, event: ResidentLeftV1, event_time: datetime | None
) -> None:
    """The resident left. A departure can arrive before the admission it ends: after a
    broker loss, fresh events are sent beside the replay of older ones. Then a row that
    says only "left" is kept (placeholders in the other columns), and the older admission,
    arriving later, does not undo it."""
    values = {
        "resident_id": event.resident_id,
        "left": True,
        "source_time": event_time or datetime.now(UTC),
    }
    placeholders = {
        "park_id": event.park_id,
        "name": "",
        "technologies": [],
        "sectors": [],
        "tags": [],
        "search": "",
    }
    await session.execute(
        newer_wins_upsert(KnownResident.__table__, "resident_id", tuple(values)),
        {**values, **placeholders},
    )
