"""Reading registrations: an event's list (organisers), seat counts, waitlist places."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..access import organised_event, visible_event
from ..models import Registration, RegistrationStatus

S = RegistrationStatus


@dataclass(frozen=True, slots=True)
class Seats:
    """An event's seats (no personal data)."""

    capacity: int
    confirmed: int
    attended: int
    waitlisted: int
    pending: int

    @property
    def available(self) -> int:
        return max(0, self.capacity - self.confirmed - self.attended)


async def list_registrations(
    *,
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    status: RegistrationStatus | None = None,
) -> Slice[Registration]:
    """In arrival order (the waitlist's order)."""
    event = await organised_event(session, principal, event_id)
    stmt = sa.select(Registration).where(Registration.event_id == event.id)
    if status:
        stmt = stmt.where(Registration.status == status.value)
    return await paginate(session, stmt, order_by=[Registration.seq], cursor=cursor, limit=limit)


async def seat_counts(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID
) -> Seats:
    event = await visible_event(session, principal, event_id)
    rows = (
        await session.execute(
            sa.select(Registration.status, sa.func.count())
            .where(Registration.event_id == event.id)
            .group_by(Registration.status)
        )
    ).all()
    counts = {status: n for status, n in rows}
    return Seats(
        capacity=event.capacity,
        confirmed=counts.get(S.CONFIRMED.value, 0),
        attended=counts.get(S.ATTENDED.value, 0),
        waitlisted=counts.get(S.WAITLISTED.value, 0),
        pending=counts.get(S.PENDING.value, 0),
    )


async def waitlist_position(*, session: AsyncSession, registration: Registration) -> int | None:
    """1 for the next to be promoted; None unless waitlisted."""
    if registration.status != S.WAITLISTED:
        return None
    ahead = (
        await session.execute(
            sa.select(sa.func.count())
            .select_from(Registration)
            .where(Registration.event_id == registration.event_id)
            .where(Registration.status == S.WAITLISTED.value)
            .where(Registration.seq < registration.seq)
        )
    ).scalar_one()
    return ahead + 1
