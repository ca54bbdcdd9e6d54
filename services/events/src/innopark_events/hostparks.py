"""The registry's parks and residents as this service knows them (local read model, fed
by the registry's events): which park may host an event, and who counts as a member of
the association for members-only events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.contracts.registry import (
    ResidentAdmittedV1,
    ResidentLeftV1,
)
from innopark_shared.readmodels import newer_wins_upsert
from innopark_shared.readmodels.parks import (
    get_known_park,
)
from sqlalchemy.ext.asyncio import AsyncSession

from .models import known_parks, known_residents

# A park counts as a member of the association when the registry reports one of these
# membership statuses (ParkCreatedV1.membership_status); anything else, or none, does not.
MEMBER_STATUSES = frozenset({"active", "member"})


# -- reading -------------------------------------------------------------------------


async def known_park(session: AsyncSession, park_id: uuid.UUID) -> Any | None:
    """The park's row, unless the registry never announced it or removed it."""
    park = await get_known_park(session, known_parks, park_id)
    return None if park is None or park.removed else park


async def is_member_user(session: AsyncSession, principal: Principal) -> bool:
    """Operators; park managers of a member park; residents of a member park."""
    if principal.is_operator:
        return True
    park_id = None
    if principal.role is Role.PARK_MANAGER:
        park_id = principal.park_id
    elif principal.role is Role.RESIDENT and principal.resident_id:
        row = (
            await session.execute(
                sa.select(known_residents.c.park_id)
                .where(known_residents.c.resident_id == principal.resident_id)
                .where(known_residents.c.left.is_(False))
            )
        ).first()
        park_id = row.park_id if row else None
    if park_id is None:
        return False
    park = await known_park(session, park_id)
    return bool(park and park.membership_status in MEMBER_STATUSES)


# -- upkeep (called by the subscriptions in messaging.py; the parks are kept by the
# shared `subscribe_known_parks`) ------------------------------------------------------


async def record_resident(
    session: AsyncSession, event: ResidentAdmittedV1, event_time: datetime | None
) -> None:
    """A resident admitted or updated: its park decides its membership. Later events
    win, older redeliveries are ignored."""
    values = {
        "resident_id": event.resident_id,
        "park_id": event.park_id,
        "name": event.name,
        "left": False,
        "source_time": event_time or datetime.now(UTC),
    }
    await session.execute(newer_wins_upsert(known_residents, "resident_id", tuple(values)), values)


async def record_resident_left(
    session: AsyncSession, event: ResidentLeftV1, event_time: datetime | None
) -> None:
    """The resident left; kept even when the departure arrives before the admission (see
    `newer_wins_upsert`)."""
    values = {
        "resident_id": event.resident_id,
        "left": True,
        "source_time": event_time or datetime.now(UTC),
    }
    placeholders = {"park_id": event.park_id, "name": ""}
    await session.execute(
        newer_wins_upsert(known_residents, "resident_id", tuple(values)), {**values, **placeholders}
    )
