"""Event routes: create, list (or the .ics feed), read (or its .ics), change, and the
lifecycle actions."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response
from innopark_shared.auth import OptionalPrincipal
from innopark_shared.db import SessionDep
from innopark_shared.http import etag_of
from innopark_shared.pagination import CursorQuery, LimitQuery, Page
from innopark_shared.schemas import Rfc3339
from pydantic import AwareDatetime

from ..config import EventsSettings, SettingsDep
from ..deps import ICS, Format, OrganiserPrincipal, wants
from ..models import Audience, Event, EventStatus, EventType
from . import queries, service
from .calendar import calendar_of
from .presenters import present_event
from .schemas import EventCancel, EventCreate, EventRead, EventUpdate

router = APIRouter(prefix="/api/v1", tags=["events"])


def _answer(response: Response, event: Event) -> EventRead:
    response.headers["ETag"] = etag_of(event.id, event.version)
    return present_event(event)


def _ics(events: list[Event], settings: EventsSettings, *, name: str, filename: str) -> Response:
    body = calendar_of(
        events,
        base_url=settings.public_base_url,
        name=name,
        organiser_email=settings.calendar_organiser_email,
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.post(
    "/events",
    status_code=201,
    response_model=EventRead,
    summary="Create an event as a draft (operator, or park manager at their park)",
)
async def create_event(
    data: EventCreate, session: SessionDep, principal: OrganiserPrincipal, response: Response
) -> EventRead:
    event = await service.create_event(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/events/{event.id}"
    return _answer(response, event)


@router.get(
    "/events",
    response_model=Page[EventRead],
    summary="List events; `Accept: text/calendar` or `?format=ics`: feed of upcoming public events",
    responses={200: {"content": {ICS: {}}}},
)
async def list_events(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    settings: SettingsDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    type: EventType | None = None,
    status: EventStatus | None = None,
    audience: Audience | None = None,
    upcoming: bool = False,
    host_park_id: UUID | None = None,
    q: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    starts_after: Annotated[AwareDatetime | None, Rfc3339] = None,
    starts_before: Annotated[AwareDatetime | None, Rfc3339] = None,
    format: Format = None,
):
    if wants(request, format, "ics", ICS):
        events = await queries.upcoming_public_events(
            session=session, limit=settings.ics_feed_limit
        )
        return _ics(events, settings, name="Innopark events", filename="innopark-events.ics")
    found = await queries.list_events(
        session=session,
        principal=principal,
        limit=limit,
        cursor=cursor,
        type=type,
        status=status,
        audience=audience,
        upcoming=upcoming,
        host_park_id=host_park_id,
        q=q,
        starts_after=starts_after,
        starts_before=starts_before,
    )
    return found.present(present_event)


@router.get(
    "/events/{event_id}",
    response_model=EventRead,
    summary="Read an event; `Accept: text/calendar` or `?format=ics` for .ics",
    responses={200: {"content": {ICS: {}}}},
)
async def get_event(
    event_id: UUID,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: OptionalPrincipal,
    settings: SettingsDep,
    format: Format = None,
):
    event = await service.get_event(session=session, principal=principal, event_id=event_id)
    if wants(request, format, "ics", ICS):
        ics = _ics([event], settings, name=event.title, filename=f"event-{event.id}.ics")
        ics.headers["ETag"] = etag_of(event.id, event.version)
        return ics
    return _answer(response, event)


@router.patch(
    "/events/{event_id}",
    response_model=EventRead,
    summary="Change an event (organiser); honours If-Match; `null` for a required field is a 422",
)
async def update_event(
    event_id: UUID,
    data: EventUpdate,
    session: SessionDep,
    principal: OrganiserPrincipal,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> EventRead:
    event = await service.update_event(
        session=session, principal=principal, event_id=event_id, data=data, if_match=if_match
    )
    return _answer(response, event)


@router.post(
    "/events/{event_id}/publish",
    response_model=EventRead,
    summary="draft → published: open for registration (organiser)",
)
async def publish_event(
    event_id: UUID, session: SessionDep, principal: OrganiserPrincipal, response: Response
) -> EventRead:
    event = await service.publish_event(session=session, principal=principal, event_id=event_id)
    return _answer(response, event)


@router.post(
    "/events/{event_id}/close-registration",
    response_model=EventRead,
    summary="published → registration_closed (organiser)",
)
async def close_registration(
    event_id: UUID, session: SessionDep, principal: OrganiserPrincipal, response: Response
) -> EventRead:
    event = await service.close_registration(
        session=session, principal=principal, event_id=event_id
    )
    return _answer(response, event)


@router.post(
    "/events/{event_id}/complete",
    response_model=EventRead,
    summary="published | registration_closed → completed (organiser)",
)
async def complete_event(
    event_id: UUID, session: SessionDep, principal: OrganiserPrincipal, response: Response
) -> EventRead:
    event = await service.complete_event(session=session, principal=principal, event_id=event_id)
    return _answer(response, event)


@router.post(
    "/events/{event_id}/cancel",
    response_model=EventRead,
    summary="Cancel an event that has not happened yet (organiser); its live registrations "
    "are cancelled too",
)
async def cancel_event(
    event_id: UUID,
    session: SessionDep,
    principal: OrganiserPrincipal,
    response: Response,
    data: EventCancel | None = None,
) -> EventRead:
    event = await service.cancel_event(
        session=session,
        principal=principal,
        event_id=event_id,
        reason=data.reason if data else None,
    )
    return _answer(response, event)
