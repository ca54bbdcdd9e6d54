"""What events publishes, and the events it subscribes to (listed in one place)."""

from __future__ import annotations

import sqlalchemy as sa
from innopark_shared.consumer import HandlerContext, Subscriptions
from innopark_shared.contracts import IntegrationEvent
from innopark_shared.contracts.events import EVENTS_TOPIC, REGISTRATIONS_TOPIC
from innopark_shared.contracts.registry import (
    ResidentAdmittedV1,
    ResidentLeftV1,
    ResidentUpdatedV1,
)
from innopark_shared.outbox import add_event, event_source
from innopark_shared.readmodels.parks import subscribe_known_parks
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import known_parks, known_residents, metadata

# Event lifecycle (EventPublishedV1, EventUpdatedV1, EventRegistrationClosedV1,
# EventCompletedV1, EventCancelledV1) and registration lifecycle (RegistrationPendingV1,
# RegistrationConfirmedV1, RegistrationWaitlistedV1, RegistrationRejectedV1,
# RegistrationCancelledV1, RegistrationAttendedV1); see innopark_shared.contracts.events.
PUBLISHES: list[str] = [EVENTS_TOPIC, REGISTRATIONS_TOPIC]

SOURCE = event_source("events")


async def publish(session: AsyncSession, event: IntegrationEvent) -> None:
    """Record `event` in the outbox, in the caller's transaction."""
    await add_event(session, metadata, event, source=SOURCE)


subscriptions = Subscriptions()
# Park created / updated / removed keep the local copy of the registry's parks.
subscribe_known_parks(subscriptions, known_parks)


# Residents (and their park) decide who may register for members-only events.
@subscriptions.on(ResidentAdmittedV1)
@subscriptions.on(ResidentUpdatedV1)
async def on_resident_changed(event: ResidentAdmittedV1, ctx: HandlerContext) -> None:
    source_time = ctx.envelope.time or sa.func.now()
    stmt = pg_insert(known_residents).values(
        resident_id=event.resident_id, park_id=event.park_id, name=event.name, left=False,
        source_time=source_time, synced_at=sa.func.now(),
    )
    await ctx.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["resident_id"],
            set_={k: stmt.excluded[k] for k in ("park_id", "name", "left", "source_time",
                                                "synced_at")},
            where=known_residents.c.source_time <= stmt.excluded.source_time,
        )
    )


@subscriptions.on(ResidentLeftV1)
async def on_resident_left(event: ResidentLeftV1, ctx: HandlerContext) -> None:
    source_time = ctx.envelope.time or sa.func.now()
    stmt = pg_insert(known_residents).values(
        resident_id=event.resident_id, park_id=event.park_id, name="", left=True,
        source_time=source_time, synced_at=sa.func.now(),
    )
    await ctx.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["resident_id"],
            set_={"left": True, "source_time": stmt.excluded.source_time,
                  "synced_at": stmt.excluded.synced_at},
            where=known_residents.c.source_time <= stmt.excluded.source_time,
        )
    )
