"""Reading events: the filtered list, and the public feed of upcoming events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.db import contains_pattern
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import RUNNING, Audience, Event, EventStatus, EventType

E = EventStatus


async def list_events(
    *,
    session: AsyncSession,
    principal: Principal | None,
    limit: int,
    cursor: str | None,
    type: EventType | None = None,
    status: EventStatus | None = None,
    audience: Audience | None = None,
    upcoming: bool = False,
    host_park_id: uuid.UUID | None = None,
    q: str | None = None,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
) -> Slice[Event]:
    """By start time. Drafts only for their organisers."""
    stmt = sa.select(Event)
    if principal is None:
        stmt = stmt.where(Event.status != E.DRAFT.value)
    elif not principal.is_operator:
        stmt = stmt.where(
            sa.or_(Event.status != E.DRAFT.value, Event.organiser_subject == principal.subject)
        )
    if type:
        stmt = stmt.where(Event.type == type)
    if status:
        stmt = stmt.where(Event.status == status)
    if audience:
        stmt = stmt.where(Event.audience == audience)
    if host_park_id:
        stmt = stmt.where(Event.host_park_id == host_park_id)
    if starts_after:
        stmt = stmt.where(Event.starts_at >= starts_after)
    if starts_before:
        stmt = stmt.where(Event.starts_at < starts_before)
    if upcoming:
        stmt = stmt.where(Event.ends_at >= datetime.now(UTC)).where(
            Event.status.in_([s.value for s in RUNNING])
        )
    if q:
        pattern = contains_pattern(q)
        stmt = stmt.where(
            sa.or_(
                Event.title.ilike(pattern),
                Event.description.ilike(pattern),
                Event.city.ilike(pattern),
            )
        )
    return await paginate(
        session, stmt, order_by=[Event.starts_at, Event.id], cursor=cursor, limit=limit
    )


async def upcoming_public_events(*, session: AsyncSession, limit: int = 500) -> list[Event]:
    """The subscribable feed: public events not over yet, published, closed for
    registration, or cancelled (so subscribed calendars learn of the cancellation)."""
    stmt = (
        sa.select(Event)
        .where(Event.audience == Audience.PUBLIC.value)
        .where(Event.status.in_([s.value for s in (*RUNNING, E.CANCELLED)]))
        .where(Event.ends_at >= datetime.now(UTC))
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
