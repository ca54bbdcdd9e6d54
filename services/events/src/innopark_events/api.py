"""Events HTTP routes: parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from innopark_shared.auth import OptionalPrincipal, Principal, Role, require_roles
from innopark_shared.db import SessionDep
from innopark_shared.http import etag_of
from innopark_shared.pagination import CursorQuery, LimitQuery
from pydantic import AwareDatetime

from . import exports, service
from .config import get_settings
from .schemas import (
    TRAVEL_TYPES,
    CheckIn,
    EventCancel,
    EventCreate,
    EventPage,
    EventRead,
    EventStatus,
    EventType,
    EventUpdate,
    RegistrationCreate,
    RegistrationCreated,
    RegistrationDecision,
    RegistrationPage,
    RegistrationRead,
    RegistrationStatus,
    SeatCounts,
    SessionCreate,
    SessionPage,
    SessionRead,
    TravelDetailsRead,
    TravelDetailsWrite,
)

router = APIRouter(prefix="/api/v1", tags=["events"])

ICS = "text/calendar"
CSV = "text/csv"

OrganiserPrincipal = Annotated[
    Principal, Depends(require_roles(Role.OPERATOR, Role.PARK_MANAGER))
]
Format = Annotated[Literal["json", "csv", "ics"] | None,
                   Query(description="Same as the Accept header, for plain links")]


def registration_token(
    token: Annotated[str | None, Query(max_length=200,
                                       description="The registrant's private token")] = None,
    x_registration_token: Annotated[str | None, Header(max_length=200)] = None,
) -> str | None:
    return x_registration_token or token


TokenDep = Annotated[str | None, Depends(registration_token)]


def _wants(request: Request, fmt: str | None, name: str, media_type: str) -> bool:
    if fmt is not None:
        return fmt == name
    return media_type in request.headers.get("accept", "")


def _event_read(event) -> EventRead:  # noqa: ANN001
    fields = {f: getattr(event, f) for f in EventRead.model_fields
              if f != "travel_details_collected"}
    return EventRead(**fields, travel_details_collected=event.type in TRAVEL_TYPES)


def _event_response(response: Response, event) -> EventRead:  # noqa: ANN001
    response.headers["ETag"] = etag_of(event.id, event.version)
    return _event_read(event)


def _ics(body: bytes, filename: str) -> Response:
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


# -- events --------------------------------------------------------------------------


@router.post("/events", status_code=201, response_model=EventRead,
             summary="Create an event as a draft (operator, or park manager at their park)")
async def create_event(
    data: EventCreate, session: SessionDep, principal: OrganiserPrincipal, response: Response
) -> EventRead:
    event = await service.create_event(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/events/{event.id}"
    return _event_response(response, event)


@router.get(
    "/events", response_model=EventPage,
    summary="List events; `Accept: text/calendar` or `?format=ics`: feed of upcoming public "
            "events",
    responses={200: {"content": {ICS: {}}}},
)
async def list_events(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    type: EventType | None = None,
    status: EventStatus | None = None,
    audience: Literal["public", "members"] | None = None,
    upcoming: bool = False,
    host_park_id: UUID | None = None,
    q: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    starts_after: AwareDatetime | None = None,
    starts_before: AwareDatetime | None = None,
    format: Format = None,
):
    if _wants(request, format, "ics", ICS):
        events = await service.upcoming_public_events(
            session=session, limit=get_settings().ics_feed_limit)
        return _ics(exports.calendar_of(
            events, base_url=get_settings().public_base_url, name="Innopark events",
            organiser_email=get_settings().calendar_organiser_email), "innopark-events.ics")
    items, next_cursor = await service.list_events(
        session=session, principal=principal, limit=limit, cursor=cursor,
        type=type, status=status, audience=audience, upcoming=upcoming,
        host_park_id=host_park_id, q=q, starts_after=starts_after, starts_before=starts_before,
    )
    return EventPage(items=[_event_read(e) for e in items], next_cursor=next_cursor)


@router.get("/events/{event_id}", response_model=EventRead,
            summary="Read an event; `Accept: text/calendar` or `?format=ics` for .ics",
            responses={200: {"content": {ICS: {}}}})
async def get_event(
    event_id: UUID, request: Request, response: Response, session: SessionDep,
    principal: OptionalPrincipal, format: Format = None,
):
    event = await service.get_event(session=session, principal=principal, event_id=event_id)
    if _wants(request, format, "ics", ICS):
        ics = _ics(exports.calendar_of(
            [event], base_url=get_settings().public_base_url, name=event.title,
            organiser_email=get_settings().calendar_organiser_email), f"event-{event.id}.ics")
        ics.headers["ETag"] = etag_of(event.id, event.version)
        return ics
    return _event_response(response, event)


@router.patch("/events/{event_id}", response_model=EventRead,
              summary="Change an event (organiser); honours If-Match")
async def update_event(
    event_id: UUID, data: EventUpdate, session: SessionDep, principal: OrganiserPrincipal,
    response: Response, if_match: Annotated[str | None, Header()] = None,
) -> EventRead:
    event = await service.update_event(session=session, principal=principal, event_id=event_id,
                                       data=data, if_match=if_match)
    return _event_response(response, event)


@router.post("/events/{event_id}/publish", response_model=EventRead,
             summary="draft → published: open for registration (organiser)")
async def publish_event(event_id: UUID, session: SessionDep, principal: OrganiserPrincipal,
                        response: Response) -> EventRead:
    event = await service.publish_event(session=session, principal=principal, event_id=event_id)
    return _event_response(response, event)


@router.post("/events/{event_id}/close-registration", response_model=EventRead,
             summary="published → registration_closed (organiser)")
async def close_registration(event_id: UUID, session: SessionDep,
                             principal: OrganiserPrincipal, response: Response) -> EventRead:
    event = await service.close_registration(session=session, principal=principal,
                                             event_id=event_id)
    return _event_response(response, event)


@router.post("/events/{event_id}/complete", response_model=EventRead,
             summary="published | registration_closed → completed (organiser)")
async def complete_event(event_id: UUID, session: SessionDep, principal: OrganiserPrincipal,
                         response: Response) -> EventRead:
    event = await service.complete_event(session=session, principal=principal, event_id=event_id)
    return _event_response(response, event)


@router.post("/events/{event_id}/cancel", response_model=EventRead,
             summary="Cancel an event that has not happened yet (organiser)")
async def cancel_event(event_id: UUID, session: SessionDep, principal: OrganiserPrincipal,
                       response: Response, data: EventCancel | None = None) -> EventRead:
    event = await service.cancel_event(session=session, principal=principal, event_id=event_id,
                                       reason=data.reason if data else None)
    return _event_response(response, event)


@router.get("/events/{event_id}/seats", response_model=SeatCounts,
            summary="Seat counts: confirmed, waitlisted, available (no personal data)")
async def get_seats(event_id: UUID, session: SessionDep,
                    principal: OptionalPrincipal) -> SeatCounts:
    return await service.seat_counts(session=session, principal=principal, event_id=event_id)


# -- programme sessions --------------------------------------------------------------


@router.post("/events/{event_id}/sessions", status_code=201, response_model=SessionRead,
             summary="Add a session to the event's programme (organiser)")
async def add_session(event_id: UUID, data: SessionCreate, session: SessionDep,
                      principal: OrganiserPrincipal, response: Response) -> SessionRead:
    item = await service.add_session(session=session, principal=principal, event_id=event_id,
                                     data=data)
    response.headers["Location"] = f"/api/v1/events/{event_id}/sessions/{item.id}"
    return SessionRead.model_validate(item)


@router.get("/events/{event_id}/sessions", response_model=SessionPage,
            summary="The event's programme, in time order")
async def list_sessions(event_id: UUID, session: SessionDep, principal: OptionalPrincipal,
                        limit: LimitQuery = 50, cursor: CursorQuery = None) -> SessionPage:
    items, next_cursor = await service.list_sessions(
        session=session, principal=principal, event_id=event_id, limit=limit, cursor=cursor)
    return SessionPage(items=[SessionRead.model_validate(i) for i in items],
                       next_cursor=next_cursor)


@router.delete("/events/{event_id}/sessions/{session_id}", status_code=204,
               summary="Remove a session from the programme (organiser)")
async def remove_session(event_id: UUID, session_id: UUID, session: SessionDep,
                         principal: OrganiserPrincipal) -> Response:
    await service.remove_session(session=session, principal=principal, event_id=event_id,
                                 session_id=session_id)
    return Response(status_code=204)


# -- registrations -------------------------------------------------------------------


def _registration_response(response: Response, registration) -> None:  # noqa: ANN001
    response.headers["ETag"] = etag_of(registration.id, registration.version)


@router.post(
    "/events/{event_id}/registrations", status_code=201, response_model=RegistrationCreated,
    summary="Register (anyone for public events; users of member parks for members-only). "
            "The answer carries the private token, shown once.",
)
async def register(
    event_id: UUID, data: RegistrationCreate, session: SessionDep,
    principal: OptionalPrincipal, response: Response,
) -> RegistrationCreated:
    registration, token = await service.register(
        session=session, principal=principal, event_id=event_id, data=data)
    path = f"/api/v1/events/{event_id}/registrations/{registration.id}"
    response.headers["Location"] = path
    _registration_response(response, registration)
    return RegistrationCreated(
        **RegistrationRead.model_validate(registration).model_dump(),
        token=token,
        cancel_url=f"{get_settings().public_base_url.rstrip('/')}{path}/cancel?token={token}",
    )


@router.get(
    "/events/{event_id}/registrations", response_model=RegistrationPage,
    summary="Registrations of an event (organiser); `Accept: text/csv` or `?format=csv` "
            "streams the attendee list",
    responses={200: {"content": {CSV: {}}}},
)
async def list_registrations(
    event_id: UUID, request: Request, session: SessionDep, principal: OrganiserPrincipal,
    limit: LimitQuery = 50, cursor: CursorQuery = None, status: RegistrationStatus | None = None,
    format: Format = None,
):
    if _wants(request, format, "csv", CSV):
        event = await service.check_can_export(session=session, principal=principal,
                                               event_id=event_id)
        return StreamingResponse(
            exports.attendee_csv(request.app.state.database, event.id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="attendees-{event.id}.csv"'},
        )
    items, next_cursor = await service.list_registrations(
        session=session, principal=principal, event_id=event_id, limit=limit, cursor=cursor,
        status=status)
    return RegistrationPage(items=[RegistrationRead.model_validate(r) for r in items],
                            next_cursor=next_cursor)


@router.get("/events/{event_id}/registrations/{registration_id}",
            response_model=RegistrationRead,
            summary="A registration (the registrant by token or login, or an organiser)")
async def get_registration(
    event_id: UUID, registration_id: UUID, session: SessionDep, principal: OptionalPrincipal,
    token: TokenDep, response: Response,
) -> RegistrationRead:
    _, registration = await service.get_registration(
        session=session, principal=principal, event_id=event_id,
        registration_id=registration_id, token=token)
    _registration_response(response, registration)
    position = await service.waitlist_position(session=session, registration=registration)
    return RegistrationRead.model_validate(registration).model_copy(
        update={"waitlist_position": position})


@router.post("/events/{event_id}/registrations/{registration_id}/cancel",
             response_model=RegistrationRead,
             summary="Cancel a registration (the registrant's private link, or organiser); "
                     "a freed seat goes to the first waitlisted")
async def cancel_registration(
    event_id: UUID, registration_id: UUID, session: SessionDep, principal: OptionalPrincipal,
    token: TokenDep, response: Response,
) -> RegistrationRead:
    registration = await service.cancel_registration(
        session=session, principal=principal, event_id=event_id,
        registration_id=registration_id, token=token)
    _registration_response(response, registration)
    return RegistrationRead.model_validate(registration)


@router.post("/events/{event_id}/registrations/{registration_id}/approve",
             response_model=RegistrationRead,
             summary="Approve a pending registration (organiser): confirmed or waitlisted")
async def approve_registration(
    event_id: UUID, registration_id: UUID, session: SessionDep, principal: OrganiserPrincipal,
    response: Response,
) -> RegistrationRead:
    registration = await service.approve_registration(
        session=session, principal=principal, event_id=event_id, registration_id=registration_id)
    _registration_response(response, registration)
    return RegistrationRead.model_validate(registration)


@router.post("/events/{event_id}/registrations/{registration_id}/reject",
             response_model=RegistrationRead,
             summary="Reject a pending or waitlisted registration (organiser)")
async def reject_registration(
    event_id: UUID, registration_id: UUID, session: SessionDep, principal: OrganiserPrincipal,
    response: Response, data: RegistrationDecision | None = None,
) -> RegistrationRead:
    registration = await service.reject_registration(
        session=session, principal=principal, event_id=event_id, registration_id=registration_id,
        reason=data.reason if data else None)
    _registration_response(response, registration)
    return RegistrationRead.model_validate(registration)


@router.post("/events/{event_id}/check-in", response_model=RegistrationRead,
             summary="Check a ticket in by its code (organiser); a wrong or used code is "
                     "refused")
async def check_in(event_id: UUID, data: CheckIn, session: SessionDep,
                   principal: OrganiserPrincipal) -> RegistrationRead:
    registration = await service.check_in(session=session, principal=principal,
                                          event_id=event_id, ticket_code=data.ticket_code)
    return RegistrationRead.model_validate(registration)


# -- travel details and invitation letters -------------------------------------------


def _travel_read(details) -> TravelDetailsRead:  # noqa: ANN001
    return TravelDetailsRead.model_validate(details, from_attributes=True)


@router.get("/events/{event_id}/registrations/{registration_id}/travel-details",
            response_model=TravelDetailsRead,
            summary="Passport and stay details (the registrant or an organiser only)")
async def get_travel_details(
    event_id: UUID, registration_id: UUID, session: SessionDep, principal: OptionalPrincipal,
    token: TokenDep,
) -> TravelDetailsRead:
    _, _, details = await service.get_travel_details(
        session=session, principal=principal, event_id=event_id,
        registration_id=registration_id, token=token)
    return _travel_read(details)


@router.put("/events/{event_id}/registrations/{registration_id}/travel-details",
            response_model=TravelDetailsRead,
            summary="Record passport and stay details (delegation visits and study tours)")
async def put_travel_details(
    event_id: UUID, registration_id: UUID, data: TravelDetailsWrite, session: SessionDep,
    principal: OptionalPrincipal, token: TokenDep,
) -> TravelDetailsRead:
    details = await service.put_travel_details(
        session=session, principal=principal, event_id=event_id,
        registration_id=registration_id, token=token, data=data)
    return _travel_read(details)


@router.get("/events/{event_id}/registrations/{registration_id}/invitation-letter",
            summary="The visa invitation letter as PDF (the registrant or an organiser)",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
async def get_invitation_letter(
    event_id: UUID, registration_id: UUID, session: SessionDep, principal: OptionalPrincipal,
    token: TokenDep,
) -> Response:
    event, registration, details = await service.invitation_letter_data(
        session=session, principal=principal, event_id=event_id,
        registration_id=registration_id, token=token)
    pdf = exports.invitation_letter_pdf(event, registration, details, get_settings())
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="invitation-{registration.id}.pdf"',
        "Cache-Control": "private, no-store",
    })
