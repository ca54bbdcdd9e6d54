"""Registrations: register, confirm (moderation), reject, cancel, check in. They flush,
never commit: the caller owns the transaction. The seat rules are in `seats.py`."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from sqlalchemy.ext.asyncio import AsyncSession

from .. import hostparks
from ..access import (
    find_registration,
    hash_token,
    organised_event,
    registration_for,
    visible_event,
)
from ..models import (
    RUNNING,
    TRAVEL_TYPES,
    Audience,
    Event,
    EventStatus,
    Registration,
    RegistrationStatus,
)
from ..travel.service import record_travel_details
from . import notices, seats
from .actions import ALLOWED_FROM, RegistrationAction, announce, move, new_ticket_code
from .schemas import RegistrationCreate

S = RegistrationStatus


class RegistrationClosed(Conflict):
    slug = "registration-closed"


class AlreadyRegistered(Conflict):
    slug = "already-registered"


@dataclass(frozen=True, slots=True)
class NewRegistration:
    """A registration just made, and its private token (shown once, never stored)."""

    registration: Registration
    token: str


def check_registration_open(event: Event, at: datetime) -> None:
    if event.status == EventStatus.CANCELLED:
        raise RegistrationClosed("The event has been cancelled", event_status=event.status)
    if event.status != EventStatus.PUBLISHED:
        raise RegistrationClosed(
            f"Registration is not open: the event is {event.status}", event_status=event.status
        )
    if event.registration_opens_at and at < event.registration_opens_at:
        raise RegistrationClosed(
            "Registration has not opened yet",
            registration_opens_at=event.registration_opens_at.isoformat(),
        )
    closes = event.registration_closes_at or event.starts_at
    if at >= closes:
        raise RegistrationClosed(
            "The registration window has closed", registration_closes_at=closes.isoformat()
        )


async def register(
    *,
    session: AsyncSession,
    principal: Principal | None,
    event_id: uuid.UUID,
    data: RegistrationCreate,
) -> NewRegistration:
    """Register a person: `pending` on a moderated event, else `confirmed` with a ticket
    while seats are free, then `waitlisted`."""
    async with seats.event_gate(event_id):
        return await _register(session, principal, event_id, data)


async def _register(
    session: AsyncSession,
    principal: Principal | None,
    event_id: uuid.UUID,
    data: RegistrationCreate,
) -> NewRegistration:
    event = await visible_event(session, principal, event_id, lock=True)
    at = datetime.now(UTC)
    check_registration_open(event, at)
    if event.audience == Audience.MEMBERS:
        if principal is None:
            raise Unauthorized("This event is for members of the association: log in")
        if not await hostparks.is_member_user(session, principal):
            raise Forbidden("This event is open to users of member parks only")
    if data.travel is not None and event.type not in TRAVEL_TYPES:
        raise Unprocessable.for_field("travel", "this event type does not collect travel details")
    email_key = data.email.lower()
    duplicate = (
        await session.execute(
            sa.select(Registration.id)
            .where(Registration.event_id == event.id)
            .where(Registration.email_key == email_key)
            .where(Registration.status.notin_([S.CANCELLED.value, S.REJECTED.value]))
        )
    ).first()
    if duplicate:
        raise AlreadyRegistered("This e-mail address is already registered for the event")

    if event.moderated:
        status = S.PENDING
    elif await seats.has_free_seat(session, event):
        status = S.CONFIRMED
    else:
        status = S.WAITLISTED
    token = secrets.token_urlsafe(32)
    registration = Registration(
        event_id=event.id,
        full_name=data.full_name,
        email=data.email,
        email_key=email_key,
        organisation=data.organisation,
        position=data.position,
        phone=data.phone,
        status=status.value,
        ticket_code=new_ticket_code() if status is S.CONFIRMED else None,
        token_hash=hash_token(token),
        registrant_subject=principal.subject if principal else None,
        created_at=at,
        updated_at=at,
    )
    session.add(registration)
    await session.flush()
    if data.travel is not None:
        await record_travel_details(session, registration.id, data.travel, at)
    await announce(session, registration)
    await notices.tell_registrant(session, registration, RegistrationAction.REGISTER)
    return NewRegistration(registration, token)


async def get_registration(
    *,
    session: AsyncSession,
    principal: Principal | None,
    event_id: uuid.UUID,
    registration_id: uuid.UUID,
    token: str | None,
) -> Registration:
    """For its registrant (token or login) and the organisers; 404 to anyone else."""
    found = await registration_for(session, principal, event_id, registration_id, token)
    return found.registration


async def cancel_registration(
    *,
    session: AsyncSession,
    principal: Principal | None,
    event_id: uuid.UUID,
    registration_id: uuid.UUID,
    token: str | None,
) -> Registration:
    """By the registrant or an organiser; a freed seat goes to the first waitlisted."""
    async with seats.event_gate(event_id):
        found = await registration_for(
            session, principal, event_id, registration_id, token, lock=True
        )
        event, registration = found.event, found.registration
        if registration.status not in ALLOWED_FROM[RegistrationAction.CANCEL]:
            raise InvalidTransition(
                f"A {registration.status} registration cannot be cancelled",
                current_status=registration.status,
            )
        if event.status in (EventStatus.COMPLETED, EventStatus.CANCELLED):
            raise InvalidTransition(f"The event is {event.status}")
        held_a_seat = registration.status == S.CONFIRMED
        await move(session, registration, RegistrationAction.CANCEL, S.CANCELLED)
        if held_a_seat:
            await seats.promote_waitlisted(session, event)
        return registration


async def _organised_registration(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, registration_id: uuid.UUID
) -> tuple[Event, Registration]:
    event = await organised_event(session, principal, event_id, lock=True)
    return event, await find_registration(session, event.id, registration_id, lock=True)


async def confirm_registration(
    *,
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    registration_id: uuid.UUID,
) -> Registration:
    """Approve a pending registration (organisers): confirmed while a seat is free, else
    waitlisted."""
    event, registration = await _organised_registration(
        session, principal, event_id, registration_id
    )
    if registration.status not in ALLOWED_FROM[RegistrationAction.CONFIRM]:
        raise InvalidTransition(
            f"Only a pending registration can be approved, not {registration.status}",
            current_status=registration.status,
        )
    if event.status not in RUNNING:
        raise InvalidTransition(f"The event is {event.status}")
    to = S.CONFIRMED if await seats.has_free_seat(session, event) else S.WAITLISTED
    await move(session, registration, RegistrationAction.CONFIRM, to)
    return registration


async def reject_registration(
    *,
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    registration_id: uuid.UUID,
    reason: str | None,
) -> Registration:
    """Refuse a pending or waitlisted registration (organisers)."""
    _, registration = await _organised_registration(session, principal, event_id, registration_id)
    if registration.status not in ALLOWED_FROM[RegistrationAction.REJECT]:
        raise InvalidTransition(
            f"A {registration.status} registration cannot be rejected",
            current_status=registration.status,
        )
    registration.decision_reason = reason
    await move(session, registration, RegistrationAction.REJECT, S.REJECTED, reason=reason)
    return registration


async def check_in(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID, ticket_code: str
) -> Registration:
    """Check a ticket in by its code (organisers): once, for a confirmed registration of
    an event that is on."""
    event = await organised_event(session, principal, event_id)
    registration = (
        await session.execute(
            sa.select(Registration)
            .where(Registration.event_id == event.id)
            .where(Registration.ticket_code == ticket_code)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if registration is None:
        raise NotFound("No ticket with this code for this event")
    if registration.status == S.ATTENDED:
        raise Conflict(
            "This ticket has already been used",
            checked_in_at=registration.checked_in_at.isoformat(),
        )
    if registration.status not in ALLOWED_FROM[RegistrationAction.CHECK_IN]:
        raise InvalidTransition(
            f"The ticket's registration is {registration.status}",
            current_status=registration.status,
        )
    if event.status not in RUNNING:
        raise InvalidTransition(f"Check-in is closed: the event is {event.status}")
    at = datetime.now(UTC)
    registration.checked_in_at = at
    await move(session, registration, RegistrationAction.CHECK_IN, S.ATTENDED, at=at)
    return registration


async def authorise_export(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> Event:
    """The event whose attendee list the caller (an organiser) may export."""
    return await organised_event(session, principal, event_id)
