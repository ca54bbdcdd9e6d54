"""Programme routes: an event's sessions."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from innopark_shared.auth import OptionalPrincipal
from innopark_shared.db import SessionDep
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..deps import OrganiserPrincipal
from . import queries, service
from .presenters import present_session
from .schemas import SessionCreate, SessionRead

router = APIRouter(prefix="/api/v1", tags=["programme"])


@router.post(
    "/events/{event_id}/sessions",
    status_code=201,
    response_model=SessionRead,
    summary="Add a session to the event's programme (organiser)",
)
async def add_session(
    event_id: UUID,
    data: SessionCreate,
    session: SessionDep,
    principal: OrganiserPrincipal,
    response: Response,
) -> SessionRead:
    item = await service.add_session(
        session=session, principal=principal, event_id=event_id, data=data
    )
    response.headers["Location"] = f"/api/v1/events/{event_id}/sessions/{item.id}"
    return present_session(item)


@router.get(
    "/events/{event_id}/sessions",
    response_model=Page[SessionRead],
    summary="The event's programme, in time order",
)
async def list_sessions(
    event_id: UUID,
    session: SessionDep,
    principal: OptionalPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[SessionRead]:
    found = await queries.list_sessions(
        session=session, principal=principal, event_id=event_id, limit=limit, cursor=cursor
    )
    return found.present(present_session)


@router.delete(
    "/events/{event_id}/sessions/{session_id}",
    status_code=204,
    summary="Remove a session from the programme (organiser)",
)
async def remove_session(
    event_id: UUID, session_id: UUID, session: SessionDep, principal: OrganiserPrincipal
) -> Response:
    await service.remove_session(
        session=session, principal=principal, event_id=event_id, session_id=session_id
    )
    return Response(status_code=204)
