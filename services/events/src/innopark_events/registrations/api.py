"""Registration routes: register, read, cancel, moderate, check in, the attendee CSV, and
an event's seat counts."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from innopark_shared.auth import OptionalPrincipal
from innopark_shared.db import DatabaseDep, SessionDep
from innopark_shared.http import etag_of
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..config import SettingsDep
from ..deps import CSV, Format, OrganiserPrincipal, TokenDep, wants
from ..models import Registration, RegistrationStatus
from . import queries, service
from .attendees import attendee_csv
from .presenters import present_new_registration, present_registration, present_seats
from .schemas import (
    CheckIn,
    RegistrationCreate,
    RegistrationCreated,
    RegistrationDecision,
    RegistrationRead,
    SeatCounts,
)

router = APIRouter(prefix="/api/v1", tags=["registrations"])

REGISTRATIONS = "/events/{event_id}/registrations"
REGISTRATION = REGISTRATIONS + "/{registration_id}"


def _with_etag(response: Response, registration: Registration) -> None:
    response.headers["ETag"] = etag_of(registration.id, registration.version)


@router.get(
    "/events/{event_id}/seats",
    response_model=SeatCounts,
    summary="Seat counts: confirmed, waitlisted, available (no personal data)",
)
async def get_seats(
    event_id: UUID, session: SessionDep, principal: OptionalPrincipal
) -> SeatCounts:
    seats = await queries.seat_counts(session=session, principal=principal, event_id=event_id)
    return present_seats(seats)


@router.post(
    REGISTRATIONS,
    status_code=201,
    response_model=RegistrationCreated,
    summary="Register (anyone for public events; users of member parks for members-only). "
    "The answer carries the private token, shown once.",
)
async def register(
    event_id: UUID,
    data: RegistrationCreate,
    session: SessionDep,
    principal: OptionalPrincipal,
    response: Response,
    settings: SettingsDep,
) -> RegistrationCreated:
    new = await service.register(session=session, principal=principal, event_id=event_id, data=data)
    path = f"/api/v1/events/{event_id}/registrations/{new.registration.id}"
    response.headers["Location"] = path
    _with_etag(response, new.registration)
    # The link carries no secret: the registrant POSTs to it with X-Registration-Token.
    return present_new_registration(new, cancel_url=settings.public_url(f"{path}/cancel"))


@router.get(
    REGISTRATIONS,
    response_model=Page[RegistrationRead],
    summary="Registrations of an event (organiser); `Accept: text/csv` or `?format=csv` "
    "streams the attendee list",
    responses={200: {"content": {CSV: {}}}},
)
async def list_registrations(
    event_id: UUID,
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
    principal: OrganiserPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: RegistrationStatus | None = None,
    format: Format = None,
):
    if wants(request, format, "csv", CSV):
        event = await service.authorise_export(
            session=session, principal=principal, event_id=event_id
        )
        return StreamingResponse(
            attendee_csv(database, event.id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="attendees-{event.id}.csv"'},
        )
    found = await queries.list_registrations(
        session=session,
        principal=principal,
        event_id=event_id,
        limit=limit,
        cursor=cursor,
        status=status,
    )
    return found.present(present_registration)


@router.get(
    REGISTRATION,
    response_model=RegistrationRead,
    summary="A registration (the registrant by token or login, or an organiser)",
)
async def get_registration(
    event_id: UUID,
    registration_id: UUID,
    session: SessionDep,
    principal: OptionalPrincipal,
    token: TokenDep,
    response: Response,
) -> RegistrationRead:
    registration = await service.get_registration(
        session=session,
        principal=principal,
        event_id=event_id,
        registration_id=registration_id,
        token=token,
    )
    _with_etag(response, registration)
    position = await queries.waitlist_position(session=session, registration=registration)
    return present_registration(registration, waitlist_position=position)


@router.post(
    f"{REGISTRATION}/cancel",
    response_model=RegistrationRead,
    summary="Cancel a registration (the registrant's private link, or organiser); "
    "a freed seat goes to the first waitlisted",
)
async def cancel_registration(
    event_id: UUID,
    registration_id: UUID,
    session: SessionDep,
    principal: OptionalPrincipal,
    token: TokenDep,
    response: Response,
) -> RegistrationRead:
    registration = await service.cancel_registration(
        session=session,
        principal=principal,
        event_id=event_id,
        registration_id=registration_id,
        token=token,
    )
    _with_etag(response, registration)
    return present_registration(registration)


@router.post(
    f"{REGISTRATION}/approve",
    response_model=RegistrationRead,
    summary="Approve a pending registration (organiser): confirmed or waitlisted",
)
async def approve_registration(
    event_id: UUID,
    registration_id: UUID,
    session: SessionDep,
    principal: OrganiserPrincipal,
    response: Response,
) -> RegistrationRead:
    registration = await service.confirm_registration(
        session=session, principal=principal, event_id=event_id, registration_id=registration_id
    )
    _with_etag(response, registration)
    return present_registration(registration)


@router.post(
    f"{REGISTRATION}/reject",
    response_model=RegistrationRead,
    summary="Reject a pending or waitlisted registration (organiser)",
)
async def reject_registration(
    event_id: UUID,
    registration_id: UUID,
    session: SessionDep,
    principal: OrganiserPrincipal,
    response: Response,
    data: RegistrationDecision | None = None,
) -> RegistrationRead:
    registration = await service.reject_registration(
        session=session,
        principal=principal,
        event_id=event_id,
        registration_id=registration_id,
        reason=data.reason if data else None,
    )
    _with_etag(response, registration)
    return present_registration(registration)


@router.post(
    "/events/{event_id}/check-in",
    response_model=RegistrationRead,
    summary="Check a ticket in by its code (organiser); a wrong or used code is refused",
)
async def check_in(
    event_id: UUID, data: CheckIn, session: SessionDep, principal: OrganiserPrincipal
) -> RegistrationRead:
    registration = await service.check_in(
        session=session, principal=principal, event_id=event_id, ticket_code=data.ticket_code
    )
    return present_registration(registration)
