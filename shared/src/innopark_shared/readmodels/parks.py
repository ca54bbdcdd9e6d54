"""The park read model orders, accreditation and events keep from the registry's events.

Each of those services owns its own copy (a `known_parks` table in its own schema); this
module is the one definition of that table, its first migration and its upkeep.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from ..contracts import ParkCreatedV1, ParkRemovedV1, ParkUpdatedV1
from ..subscriptions import HandlerContext, Subscriptions
from . import newer_wins_upsert

TABLE = "known_parks"


def _columns() -> list[sa.Column]:
    return [
        sa.Column("park_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("specializations", ARRAY(sa.String(100)), nullable=False),
        sa.Column("city", sa.String(200), nullable=True),
        sa.Column("membership_status", sa.String(40), nullable=True),
        sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
        # Time of the registry event the row reflects: later events win, older ones are
        # ignored, whatever order redeliveries arrive in.
        sa.Column("source_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "synced_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def _email_column() -> sa.Column:
    # The park's public contact e-mail (where accreditation writes to the park), added
    # after the first version (`add_known_parks_email`).
    return sa.Column("email", sa.String(320), nullable=True)


def known_parks_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(TABLE, metadata, *_columns(), _email_column())


def create_known_parks_table(op, schema: str) -> None:
    """The table as of its first version (a service's first migration)."""
    op.create_table(TABLE, *_columns(), schema=schema)


def add_known_parks_email(op, schema: str) -> None:
    """The migration that keeps the park's e-mail from the registry's events."""
    op.add_column(TABLE, _email_column(), schema=schema)


async def apply_park_snapshot(
    session: AsyncSession, table: sa.Table, event: ParkCreatedV1, event_time: datetime | None
) -> None:
    """Upsert from a park created/updated event (ParkUpdatedV1 extends ParkCreatedV1)."""
    await apply_park_snapshots(session, table, [(event, event_time)])


async def apply_park_snapshots(
    session: AsyncSession,
    table: sa.Table,
    events: Sequence[tuple[ParkCreatedV1, datetime | None]],
) -> None:
    """`apply_park_snapshot` for several events in one statement (a consumer's batch):
    one round trip instead of one per event. Of two states of one park in `events`, the
    newer is sent (the later on a tie), which is what applying them in turn leaves."""
    newest: dict[uuid.UUID, dict[str, Any]] = {}
    for event, event_time in events:
        values = {
            "park_id": event.park_id,
            "name": event.name,
            "kind": event.kind,
            "country": event.country,
            "region": event.region,
            "specializations": list(event.specializations),
            "city": event.city,
            "membership_status": event.membership_status,
            "email": event.email,
            "removed": False,
            "source_time": event_time or event.created_at,
        }
        kept = newest.get(event.park_id)
        if kept is None or kept["source_time"] <= values["source_time"]:
            newest[event.park_id] = values
    rows = list(newest.values())
    if rows:
        await session.execute(newer_wins_upsert(table, "park_id", tuple(rows[0])), rows)


async def apply_park_removed(
    session: AsyncSession, table: sa.Table, event: ParkRemovedV1, event_time: datetime | None
) -> None:
    """The park was removed. A removal can arrive before the creation it ends: after a
    broker loss, fresh events are sent beside the replay of older ones. Then a row that
    says only "removed" is kept (placeholders in the other columns), and the older
    creation, arriving later, does not undo it."""
    values = {
        "park_id": event.park_id,
        "removed": True,
        "source_time": event_time or event.removed_at,
    }
    placeholders = {"name": "", "kind": "", "country": "", "region": "", "specializations": []}
    await session.execute(
        newer_wins_upsert(table, "park_id", tuple(values)), {**values, **placeholders}
    )


async def get_known_park(session: AsyncSession, table: sa.Table, park_id: uuid.UUID):
    return (await session.execute(sa.select(table).where(table.c.park_id == park_id))).first()


def subscribe_known_parks(subscriptions: Subscriptions, table: sa.Table) -> None:
    """Register the handlers that keep `table` in step with the registry's park events."""

    @subscriptions.on_batch(ParkCreatedV1)
    @subscriptions.on_batch(ParkUpdatedV1)
    async def on_parks_changed(events: list[tuple[ParkCreatedV1, HandlerContext]]) -> None:
        await apply_park_snapshots(
            events[0][1].session, table, [(event, ctx.envelope.time) for event, ctx in events]
        )

    @subscriptions.on(ParkRemovedV1)
    async def on_park_removed(event: ParkRemovedV1, ctx: HandlerContext) -> None:
        await apply_park_removed(ctx.session, table, event, ctx.envelope.time)
