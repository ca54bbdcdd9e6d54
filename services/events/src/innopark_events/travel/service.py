"""Travel details for visa invitation letters: delegation visits and study tours only,
private to the registrant and the event's organisers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.errors import Conflict, InvalidTransition, NotFound
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..access import registration_for
from ..models import (
    LIVE,
    SEATED,
    TRAVEL_TYPES,
    Event,
    Registration,
    RegistrationStatus,
    TravelDetails,
)
from .schemas import TravelDetailsWrite


@dataclass(frozen=True, slots=True)
class LetterData:
    """What an invitation letter is made of."""

    event: Event
    registration: Registration
    details: TravelDetails


async def record_travel_details(
    session: AsyncSession, registration_id: uuid.UUID, data: TravelDetailsWrite, at: datetime
) -> None:
    """The details given with a new registration (the caller checked the event type)."""
    session.add(TravelDetails(registration_id=registration_id, **data.model_dump(), updated_at=at))
    await session.flush()


async def get_travel_details(
    *,
    session: AsyncSession,
    principal: Principal | None,
    event_id: uuid.UUID,
    registration_id: uuid.UUID,
    token: str | None,
) -> TravelDetails:
    found = await registration_for(session, principal, event_id, registration_id, token)
    details = await session.get(TravelDetails, found.registration.id)
    if details is None:
        raise NotFound("No travel details recorded for this registration")
    return details


async def put_travel_details(
    *,
    session: AsyncSession,
    principal: Principal | None,
    event_id: uuid.UUID,
    registration_id: uuid.UUID,
    token: str | None,
    data: TravelDetailsWrite,
) -> TravelDetails:
    found = await registration_for(session, principal, event_id, registration_id, token)
    if found.event.type not in TRAVEL_TYPES:
        raise Conflict("Travel details are collected for delegation visits and study tours only")
    registration = found.registration
    if registration.status not in LIVE | {RegistrationStatus.ATTENDED}:
        raise InvalidTransition(f"The registration is {registration.status}")
    # An upsert: two saves at once (two browser tabs) must not collide on the key.
    values = {**data.model_dump(), "updated_at": datetime.now(UTC)}
    stmt = pg_insert(TravelDetails).values(registration_id=registration.id, **values)
    stmt = stmt.on_conflict_do_update(index_elements=["registration_id"], set_=values)
    await session.execute(stmt.returning(TravelDetails.registration_id))
    return (
        await session.execute(
            sa.select(TravelDetails)
            .where(TravelDetails.registration_id == registration.id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def invitation_letter(
    *,
    session: AsyncSession,
    principal: Principal | None,
    event_id: uuid.UUID,
    registration_id: uuid.UUID,
    token: str | None,
) -> LetterData:
    """The letter's content, for a seated registration of a delegation visit or tour."""
    found = await registration_for(session, principal, event_id, registration_id, token)
    details = await session.get(TravelDetails, found.registration.id)
    if details is None:
        raise NotFound("No travel details recorded for this registration")
    if found.event.type not in TRAVEL_TYPES:
        raise NotFound("Invitation letters exist for delegation visits and study tours only")
    if found.registration.status not in SEATED:
        raise InvalidTransition(
            "An invitation letter is issued for a confirmed registration only",
            current_status=found.registration.status,
        )
    return LetterData(found.event, found.registration, details)
