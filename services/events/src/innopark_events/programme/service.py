"""The programme of an event: sessions added and removed by its organisers while the
event is not over."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.errors import InvalidTransition, NotFound, Unprocessable
from sqlalchemy.ext.asyncio import AsyncSession

from ..access import organised_event
from ..models import EDITABLE, AgendaSession
from .schemas import SessionCreate


async def add_session(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID, data: SessionCreate
) -> AgendaSession:
    event = await organised_event(session, principal, event_id)
    if event.status not in EDITABLE:
        raise InvalidTransition(f"The programme of a {event.status} event is closed")
    if data.starts_at < event.starts_at or data.ends_at > event.ends_at:
        raise Unprocessable.for_field(
            "starts_at", "a session must lie within the event's start and end"
        )
    item = AgendaSession(event_id=event.id, **data.model_dump())
    session.add(item)
    await session.flush()
    return item


async def remove_session(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    event = await organised_event(session, principal, event_id)
    if event.status not in EDITABLE:
        raise InvalidTransition(f"The programme of a {event.status} event is closed")
    result = await session.execute(
        sa.delete(AgendaSession)
        .where(AgendaSession.event_id == event.id)
        .where(AgendaSession.id == session_id)
    )
    if result.rowcount == 0:
        raise NotFound(f"Session {session_id} not found")
