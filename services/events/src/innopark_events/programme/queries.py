"""Reading the programme: an event's sessions in time order."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..access import visible_event
from ..models import AgendaSession


async def list_sessions(
    *,
    session: AsyncSession,
    principal: Principal | None,
    event_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> Slice[AgendaSession]:
    """Anyone who sees the event sees its programme."""
    event = await visible_event(session, principal, event_id)
    stmt = sa.select(AgendaSession).where(AgendaSession.event_id == event.id)
    return await paginate(
        session,
        stmt,
        order_by=[AgendaSession.starts_at, AgendaSession.id],
        cursor=cursor,
        limit=limit,
    )
