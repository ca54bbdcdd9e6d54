"""Events domain operations. They flush, never commit: the caller owns the transaction.

Seats: every operation that can take or free a seat (register, approve, cancel, a
capacity change) first locks the event row (`SELECT ... FOR UPDATE`), so those operations
on one event run one at a time and the count of confirmed seats read under the lock is
exact: capacity is never exceeded, and the waitlist is served in arrival order (`seq`).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.contracts.events import (
    EventCancelledV1,
    EventCompletedV1,
    EventPublishedV1,
    EventRegistrationClosedV1,
    EventUpdatedV1,
    RegistrationAttendedV1,
    RegistrationCancelledV1,
    RegistrationConfirmedV1,
    RegistrationPendingV1,
    RegistrationRejectedV1,
    RegistrationWaitlistedV1,
)
from innopark_shared.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from innopark_shared.http import check_if_match
from innopark_shared.pagination import keyset, page
from innopark_shared.readmodels.parks import get_known_park
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .events import publish
from .models import (
    AgendaSession,
    Event,
    Registration,
    TravelDetails,
    known_parks,
    known_residents,
)
from .schemas import (
    TRAVEL_TYPES,
    Audience,
    EventCreate,
    EventStatus,
    EventUpdate,
    RegistrationCreate,
    RegistrationStatus,
    SeatCounts,
    SessionCreate,
    TravelDetailsWrite,
)

# A park counts as a member of the association when the registry reports one of these
# membership statuses (ParkCreatedV1.membership_status); anything else, or none, does not.
MEMBER_STATUSES = frozenset({"active", "member"})

# Statuses that hold a seat.
SEATED = (RegistrationStatus.CONFIRMED.value, RegistrationStatus.ATTENDED.value)
LIVE = (RegistrationStatus.PENDING.value, RegistrationStatus.CONFIRMED.value,
        RegistrationStatus.WAITLISTED.value)
EDITABLE = (EventStatus.DRAFT.value, EventStatus.PUBLISHED.value,
            EventStatus.REGISTRATION_CLOSED.value)


class RegistrationClosed(Conflict):
    slug = "registration-closed"


class AlreadyRegistered(Conflict):
    slug = "already-registered"


def now() -> datetime:
    return datetime.now(UTC)


def _bad_field(field: str, message: str) -> Unprocessable:
    return Unprocessable(f"Invalid input: {field}", errors=[
        {"field": field, "location": ["body", *field.split(".")], "message": message,
         "type": "value_error"}
    ])


# -- access --------------------------------------------------------------------------


def is_organiser(principal: Principal | None, event: Event) -> bool:
    if principal is None:
        return False
    return principal.is_operator or principal.subject == event.organiser_subject


def _can_see(principal: Principal | None, event: Event) -> bool:
    return event.status != EventStatus.DRAFT or is_organiser(principal, event)


async def is_member_user(session: AsyncSession, principal: Principal) -> bool:
    """Operators; park managers of a member park; residents of a member park."""
    if principal.is_operator:
        return True
    park_id = None
    if principal.role is Role.PARK_MANAGER:
        park_id = principal.park_id
    elif principal.role is Role.RESIDENT and principal.resident_id:
        row = (await session.execute(
            sa.select(known_residents.c.park_id)
            .where(known_residents.c.resident_id == principal.resident_id)
            .where(known_residents.c.left.is_(False))
        )).first()
        park_id = row.park_id if row else None
    if park_id is None:
        return False
    park = await get_known_park(session, known_parks, park_id)
    return bool(park and not park.removed and park.membership_status in MEMBER_STATUSES)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- events --------------------------------------------------------------------------


def _event_snapshot(cls: type[EventPublishedV1], event: Event) -> EventPublishedV1:
    return cls(
        event_id=event.id, title=event.title, type=event.type, format=event.format,
        starts_at=event.starts_at, ends_at=event.ends_at, timezone=event.timezone,
        audience=event.audience, capacity=event.capacity, host_park_id=event.host_park_id,
        city=event.city, country=event.country, languages=list(event.languages or []),
        registration_opens_at=event.registration_opens_at,
        registration_closes_at=event.registration_closes_at,
        organiser_name=event.organiser_name,
    )


async def _check_host_park(
    session: AsyncSession, principal: Principal, host_park_id: uuid.UUID | None
):
    if principal.role is Role.PARK_MANAGER and host_park_id != principal.park_id:
        raise Forbidden("A park manager organises events hosted at their own park only")
    if host_park_id is None:
        return None
    park = await get_known_park(session, known_parks, host_park_id)
    if park is None or park.removed:
        raise _bad_field("host_park_id", "no such park in the registry")
    return park


async def create_event(
    *, session: AsyncSession, principal: Principal, data: EventCreate
) -> Event:
    park = await _check_host_park(session, principal, data.host_park_id)
    values = data.model_dump()
    if park is not None:
        values["city"] = values["city"] or park.city
        values["country"] = values["country"] or park.country
    event = Event(
        **values,
        status=EventStatus.DRAFT.value,
        organiser_subject=principal.subject,
        version=1,
    )
    session.add(event)
    await session.flush()
    return event


async def get_event(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID,
    lock: bool = False,
) -> Event:
    stmt = sa.select(Event).where(Event.id == event_id)
    if lock:
        stmt = stmt.with_for_update()
    event = (await session.execute(stmt)).scalar_one_or_none()
    if event is None or not _can_see(principal, event):
        raise NotFound(f"Event {event_id} not found")
    return event


async def _organised_event(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, *, lock: bool = False
) -> Event:
    event = await get_event(session=session, principal=principal, event_id=event_id, lock=lock)
    if not is_organiser(principal, event):
        raise Forbidden("Only the event's organiser or an operator may do this")
    return event


async def list_events(
    *,
    session: AsyncSession,
    principal: Principal | None,
    limit: int,
    cursor: str | None,
    type: str | None = None,
    status: str | None = None,
    audience: str | None = None,
    upcoming: bool = False,
    host_park_id: uuid.UUID | None = None,
    q: str | None = None,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
) -> tuple[list[Event], str | None]:
    stmt = sa.select(Event)
    if principal is None:
        stmt = stmt.where(Event.status != EventStatus.DRAFT.value)
    elif not principal.is_operator:
        stmt = stmt.where(sa.or_(Event.status != EventStatus.DRAFT.value,
                                 Event.organiser_subject == principal.subject))
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
        stmt = stmt.where(Event.ends_at >= now()).where(
            Event.status.in_([EventStatus.PUBLISHED.value, EventStatus.REGISTRATION_CLOSED.value])
        )
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(sa.or_(Event.title.ilike(pattern), Event.description.ilike(pattern),
                                 Event.city.ilike(pattern)))
    stmt = keyset(stmt, [Event.starts_at, Event.id], cursor, limit)
    rows = (await session.execute(stmt)).scalars().all()
    return page(rows, limit, key=lambda e: (e.starts_at, e.id))


async def upcoming_public_events(*, session: AsyncSession, limit: int = 500) -> list[Event]:
    """The subscribable feed: public events not over yet, published, closed for
    registration, or cancelled (so subscribed calendars learn of the cancellation)."""
    stmt = (
        sa.select(Event)
        .where(Event.audience == Audience.PUBLIC.value)
        .where(Event.status.in_([EventStatus.PUBLISHED.value,
                                 EventStatus.REGISTRATION_CLOSED.value,
                                 EventStatus.CANCELLED.value]))
        .where(Event.ends_at >= now())
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def update_event(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID, data: EventUpdate,
    if_match: str | None,
) -> Event:
    event = await _organised_event(session, principal, event_id, lock=True)
    check_if_match(if_match, event.id, event.version)
    if event.status not in EDITABLE:
        raise InvalidTransition(f"A {event.status} event can no longer be changed")
    changes = data.model_dump(exclude_unset=True)
    for field in ("title", "type", "format", "starts_at", "ends_at", "timezone", "capacity",
                  "languages", "audience", "moderated"):
        if field in changes and changes[field] is None:
            raise _bad_field(field, "may not be null")
    if "host_park_id" in changes and changes["host_park_id"] != event.host_park_id:
        await _check_host_park(session, principal, changes["host_park_id"])
    for field, value in changes.items():
        setattr(event, field, value)
    if event.ends_at <= event.starts_at:
        raise _bad_field("ends_at", "ends_at must be after starts_at")
    if (event.registration_opens_at and event.registration_closes_at
            and event.registration_closes_at <= event.registration_opens_at):
        raise _bad_field("registration_closes_at", "must be after registration_opens_at")
    if "capacity" in changes:
        seated = await _seated(session, event.id)
        if event.capacity < seated:
            raise Conflict(
                f"Capacity {event.capacity} is below the {seated} seats already confirmed",
                confirmed=seated,
            )
    event.version += 1
    event.updated_at = now()
    await session.flush()
    if "capacity" in changes:
        await _promote_waitlisted(session, event)
    if event.status != EventStatus.DRAFT:
        await publish(session, _event_snapshot(EventUpdatedV1, event))
    return event


async def _transition(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID,
    allowed_from: tuple[EventStatus, ...], to: EventStatus,
) -> Event:
    event = await _organised_event(session, principal, event_id, lock=True)
    if event.status not in allowed_from:
        raise InvalidTransition(
            f"Cannot move an event from {event.status} to {to.value}",
            current_status=event.status,
        )
    event.status = to.value
    event.version += 1
    event.updated_at = now()
    await session.flush()
    return event


async def publish_event(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> Event:
    event = await _transition(session, principal, event_id, (EventStatus.DRAFT,),
                              EventStatus.PUBLISHED)
    if event.ends_at <= now():
        raise InvalidTransition("The event has already ended; it cannot be published")
    await publish(session, _event_snapshot(EventPublishedV1, event))
    return event


async def close_registration(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> Event:
    event = await _transition(session, principal, event_id, (EventStatus.PUBLISHED,),
                              EventStatus.REGISTRATION_CLOSED)
    await publish(session, EventRegistrationClosedV1(event_id=event.id, closed_at=event.updated_at))
    return event


async def complete_event(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> Event:
    event = await _transition(
        session, principal, event_id,
        (EventStatus.PUBLISHED, EventStatus.REGISTRATION_CLOSED), EventStatus.COMPLETED,
    )
    attended = (await session.execute(
        sa.select(sa.func.count()).select_from(Registration)
        .where(Registration.event_id == event.id)
        .where(Registration.status == RegistrationStatus.ATTENDED.value)
    )).scalar_one()
    await publish(session, EventCompletedV1(event_id=event.id, completed_at=event.updated_at,
                                            attended=attended))
    return event


async def cancel_event(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID, reason: str | None
) -> Event:
    event = await _transition(session, principal, event_id, tuple(EventStatus(s) for s in EDITABLE),
                              EventStatus.CANCELLED)
    event.cancellation_reason = reason
    await session.flush()
    await publish(session, EventCancelledV1(event_id=event.id, cancelled_at=event.updated_at,
                                            reason=reason))
    # Nobody stays registered for an event that will not happen: each registration still
    # live is cancelled, with its own event, so registrants and their systems hear of it.
    live = (await session.execute(
        sa.select(Registration).where(Registration.event_id == event.id)
        .where(Registration.status.in_(LIVE)).order_by(Registration.seq).with_for_update()
    )).scalars().all()
    for registration in live:
        previous = registration.status
        registration.status = RegistrationStatus.CANCELLED.value
        registration.version += 1
        registration.updated_at = now()
        await session.flush()
        await publish(session, _registration_event(
            RegistrationCancelledV1, registration, previous_status=previous,
            by_event_cancellation=True,
        ))
    return event


async def seat_counts(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID
) -> SeatCounts:
    event = await get_event(session=session, principal=principal, event_id=event_id)
    rows = (await session.execute(
        sa.select(Registration.status, sa.func.count())
        .where(Registration.event_id == event.id)
        .group_by(Registration.status)
    )).all()
    counts = {status: n for status, n in rows}
    confirmed = counts.get(RegistrationStatus.CONFIRMED.value, 0)
    attended = counts.get(RegistrationStatus.ATTENDED.value, 0)
    return SeatCounts(
        capacity=event.capacity, confirmed=confirmed, attended=attended,
        waitlisted=counts.get(RegistrationStatus.WAITLISTED.value, 0),
        pending=counts.get(RegistrationStatus.PENDING.value, 0),
        available=max(0, event.capacity - confirmed - attended),
    )


# -- registrations -------------------------------------------------------------------


async def _seated(session: AsyncSession, event_id: uuid.UUID) -> int:
    return (await session.execute(
        sa.select(sa.func.count()).select_from(Registration)
        .where(Registration.event_id == event_id)
        .where(Registration.status.in_(SEATED))
    )).scalar_one()


def _registration_event(cls, registration: Registration, **extra: Any):  # noqa: ANN001
    return cls(registration_id=registration.id, event_id=registration.event_id,
               organisation=registration.organisation, occurred_at=registration.updated_at,
               **extra)


async def _confirm(session: AsyncSession, registration: Registration, *, promoted: bool) -> None:
    registration.status = RegistrationStatus.CONFIRMED.value
    registration.ticket_code = registration.ticket_code or secrets.token_urlsafe(12)
    registration.version += 1
    registration.updated_at = now()
    await session.flush()
    await publish(session, _registration_event(RegistrationConfirmedV1, registration,
                                               promoted_from_waitlist=promoted))


async def _promote_waitlisted(session: AsyncSession, event: Event) -> int:
    """Give free seats to the waitlist, first come first served. The event row is locked."""
    if event.status not in (EventStatus.PUBLISHED.value, EventStatus.REGISTRATION_CLOSED.value):
        return 0
    free = event.capacity - await _seated(session, event.id)
    if free <= 0:
        return 0
    waiting = (await session.execute(
        sa.select(Registration)
        .where(Registration.event_id == event.id)
        .where(Registration.status == RegistrationStatus.WAITLISTED.value)
        .order_by(Registration.seq)
        .limit(free)
    )).scalars().all()
    for registration in waiting:
        await _confirm(session, registration, promoted=True)
    return len(waiting)


def _check_registration_open(event: Event, at: datetime) -> None:
    if event.status == EventStatus.CANCELLED:
        raise RegistrationClosed("The event has been cancelled", event_status=event.status)
    if event.status != EventStatus.PUBLISHED:
        raise RegistrationClosed(f"Registration is not open: the event is {event.status}",
                                 event_status=event.status)
    if event.registration_opens_at and at < event.registration_opens_at:
        raise RegistrationClosed(
            "Registration has not opened yet",
            registration_opens_at=event.registration_opens_at.isoformat(),
        )
    closes = event.registration_closes_at or event.starts_at
    if at >= closes:
        raise RegistrationClosed("The registration window has closed",
                                 registration_closes_at=closes.isoformat())


@asynccontextmanager
async def _event_gate(event_id: uuid.UUID) -> AsyncIterator[None]:
    """Queue this process's seat operations on one event in memory, before they take a
    database connection: in a burst, the requests waiting for the event's row lock would
    otherwise hold every pooled connection and time out waiting for one. The row lock
    still decides (several replicas); the gate is released before the commit, so the next
    request is already waiting on the row when it is freed."""
    gate = _gates.get(event_id)
    if gate is None:
        gate = _gates[event_id] = asyncio.Lock()
    async with gate:
        yield


_gates: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = weakref.WeakValueDictionary()


async def register(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID,
    data: RegistrationCreate,
) -> tuple[Registration, str]:
    """Register a person; returns the registration and its private token (shown once)."""
    async with _event_gate(event_id):
        return await _register(session=session, principal=principal, event_id=event_id,
                               data=data)


async def _register(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID,
    data: RegistrationCreate,
) -> tuple[Registration, str]:
    event = await get_event(session=session, principal=principal, event_id=event_id, lock=True)
    _check_registration_open(event, now())
    if event.audience == Audience.MEMBERS:
        if principal is None:
            raise Unauthorized("This event is for members of the association: log in")
        if not await is_member_user(session, principal):
            raise Forbidden("This event is open to users of member parks only")
    if data.travel is not None and event.type not in TRAVEL_TYPES:
        raise _bad_field("travel", "this event type does not collect travel details")
    email_key = data.email.lower()
    duplicate = (await session.execute(
        sa.select(Registration.id)
        .where(Registration.event_id == event.id)
        .where(Registration.email_key == email_key)
        .where(Registration.status.notin_([RegistrationStatus.CANCELLED.value,
                                           RegistrationStatus.REJECTED.value]))
    )).first()
    if duplicate:
        raise AlreadyRegistered("This e-mail address is already registered for the event")

    if event.moderated:
        status = RegistrationStatus.PENDING
    elif await _seated(session, event.id) < event.capacity:
        status = RegistrationStatus.CONFIRMED
    else:
        status = RegistrationStatus.WAITLISTED
    token = secrets.token_urlsafe(32)
    at = now()
    registration = Registration(
        event_id=event.id,
        full_name=data.full_name,
        email=data.email,
        email_key=email_key,
        organisation=data.organisation,
        position=data.position,
        phone=data.phone,
        status=status.value,
        ticket_code=secrets.token_urlsafe(12) if status is RegistrationStatus.CONFIRMED else None,
        token_hash=_hash_token(token),
        registrant_subject=principal.subject if principal else None,
        version=1,
        created_at=at,
        updated_at=at,
    )
    session.add(registration)
    await session.flush()
    if data.travel is not None:
        session.add(TravelDetails(registration_id=registration.id, **data.travel.model_dump(),
                                  updated_at=at))
        await session.flush()
    event_cls = {
        RegistrationStatus.PENDING: RegistrationPendingV1,
        RegistrationStatus.CONFIRMED: RegistrationConfirmedV1,
        RegistrationStatus.WAITLISTED: RegistrationWaitlistedV1,
    }[status]
    await publish(session, _registration_event(event_cls, registration))
    return registration, token


async def _registration(
    session: AsyncSession, event_id: uuid.UUID, registration_id: uuid.UUID, *,
    lock: bool = False,
) -> Registration | None:
    stmt = (sa.select(Registration).where(Registration.id == registration_id)
            .where(Registration.event_id == event_id))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_registration(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID,
    registration_id: uuid.UUID, token: str | None, lock: bool = False,
) -> tuple[Event, Registration]:
    """The registrant (their private token, or the user who registered) and the event's
    organisers may see a registration; to anyone else it does not exist."""
    event = (await session.execute(
        sa.select(Event).where(Event.id == event_id).with_for_update() if lock
        else sa.select(Event).where(Event.id == event_id)
    )).scalar_one_or_none()
    registration = await _registration(session, event_id, registration_id, lock=lock)
    missing = NotFound(f"Registration {registration_id} not found")
    if event is None or registration is None:
        raise missing
    allowed = (
        is_organiser(principal, event)
        or (token is not None and secrets.compare_digest(_hash_token(token),
                                                         registration.token_hash))
        or (principal is not None and registration.registrant_subject == principal.subject)
    )
    if not allowed:
        raise missing
    return event, registration


async def waitlist_position(*, session: AsyncSession, registration: Registration) -> int | None:
    """1 for the next to be promoted; None unless waitlisted."""
    if registration.status != RegistrationStatus.WAITLISTED:
        return None
    ahead = (await session.execute(
        sa.select(sa.func.count()).select_from(Registration)
        .where(Registration.event_id == registration.event_id)
        .where(Registration.status == RegistrationStatus.WAITLISTED.value)
        .where(Registration.seq < registration.seq)
    )).scalar_one()
    return ahead + 1


async def list_registrations(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID, limit: int,
    cursor: str | None, status: str | None = None,
) -> tuple[list[Registration], str | None]:
    event = await _organised_event(session, principal, event_id)
    stmt = sa.select(Registration).where(Registration.event_id == event.id)
    if status:
        stmt = stmt.where(Registration.status == status)
    stmt = keyset(stmt, [Registration.seq], cursor, limit)
    rows = (await session.execute(stmt)).scalars().all()
    return page(rows, limit, key=lambda r: (r.seq,))


async def check_can_export(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> Event:
    return await _organised_event(session, principal, event_id)


def attendee_rows_query(event_id: uuid.UUID) -> sa.Select:
    return (sa.select(Registration).where(Registration.event_id == event_id)
            .order_by(Registration.seq))


async def cancel_registration(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID,
    registration_id: uuid.UUID, token: str | None,
) -> Registration:
    async with _event_gate(event_id):
        return await _cancel_registration(session=session, principal=principal,
                                          event_id=event_id, registration_id=registration_id,
                                          token=token)


async def _cancel_registration(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID,
    registration_id: uuid.UUID, token: str | None,
) -> Registration:
    # Lock order everywhere: event row first, then the registration.
    event, registration = await get_registration(
        session=session, principal=principal, event_id=event_id,
        registration_id=registration_id, token=token, lock=True,
    )
    if registration.status not in LIVE:
        raise InvalidTransition(f"A {registration.status} registration cannot be cancelled",
                                current_status=registration.status)
    if event.status in (EventStatus.COMPLETED.value, EventStatus.CANCELLED.value):
        raise InvalidTransition(f"The event is {event.status}")
    previous = registration.status
    registration.status = RegistrationStatus.CANCELLED.value
    registration.version += 1
    registration.updated_at = now()
    await session.flush()
    await publish(session, _registration_event(RegistrationCancelledV1, registration,
                                               previous_status=previous))
    if previous == RegistrationStatus.CONFIRMED:
        await _promote_waitlisted(session, event)
    return registration


async def approve_registration(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID,
    registration_id: uuid.UUID,
) -> Registration:
    event = await _organised_event(session, principal, event_id, lock=True)
    registration = await _registration(session, event.id, registration_id, lock=True)
    if registration is None:
        raise NotFound(f"Registration {registration_id} not found")
    if registration.status != RegistrationStatus.PENDING:
        raise InvalidTransition(f"Only a pending registration can be approved, not "
                                f"{registration.status}", current_status=registration.status)
    if event.status not in (EventStatus.PUBLISHED.value, EventStatus.REGISTRATION_CLOSED.value):
        raise InvalidTransition(f"The event is {event.status}")
    if await _seated(session, event.id) < event.capacity:
        await _confirm(session, registration, promoted=False)
    else:
        registration.status = RegistrationStatus.WAITLISTED.value
        registration.version += 1
        registration.updated_at = now()
        await session.flush()
        await publish(session, _registration_event(RegistrationWaitlistedV1, registration))
    return registration


async def reject_registration(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID,
    registration_id: uuid.UUID, reason: str | None,
) -> Registration:
    event = await _organised_event(session, principal, event_id, lock=True)
    registration = await _registration(session, event.id, registration_id, lock=True)
    if registration is None:
        raise NotFound(f"Registration {registration_id} not found")
    if registration.status not in (RegistrationStatus.PENDING.value,
                                   RegistrationStatus.WAITLISTED.value):
        raise InvalidTransition(f"A {registration.status} registration cannot be rejected",
                                current_status=registration.status)
    registration.status = RegistrationStatus.REJECTED.value
    registration.decision_reason = reason
    registration.version += 1
    registration.updated_at = now()
    await session.flush()
    await publish(session, _registration_event(RegistrationRejectedV1, registration,
                                               reason=reason))
    return registration


async def check_in(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID, ticket_code: str
) -> Registration:
    event = await _organised_event(session, principal, event_id)
    registration = (await session.execute(
        sa.select(Registration).where(Registration.event_id == event.id)
        .where(Registration.ticket_code == ticket_code).with_for_update()
    )).scalar_one_or_none()
    if registration is None:
        raise NotFound("No ticket with this code for this event")
    if registration.status == RegistrationStatus.ATTENDED:
        raise Conflict("This ticket has already been used",
                       checked_in_at=registration.checked_in_at.isoformat())
    if registration.status != RegistrationStatus.CONFIRMED:
        raise InvalidTransition(f"The ticket's registration is {registration.status}",
                                current_status=registration.status)
    if event.status not in (EventStatus.PUBLISHED.value, EventStatus.REGISTRATION_CLOSED.value):
        raise InvalidTransition(f"Check-in is closed: the event is {event.status}")
    registration.status = RegistrationStatus.ATTENDED.value
    registration.checked_in_at = now()
    registration.version += 1
    registration.updated_at = registration.checked_in_at
    await session.flush()
    await publish(session, _registration_event(RegistrationAttendedV1, registration))
    return registration


# -- travel details and invitation letters -------------------------------------------


async def get_travel_details(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID,
    registration_id: uuid.UUID, token: str | None,
) -> tuple[Event, Registration, TravelDetails]:
    event, registration = await get_registration(
        session=session, principal=principal, event_id=event_id,
        registration_id=registration_id, token=token,
    )
    details = await session.get(TravelDetails, registration.id)
    if details is None:
        raise NotFound("No travel details recorded for this registration")
    return event, registration, details


async def put_travel_details(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID,
    registration_id: uuid.UUID, token: str | None, data: TravelDetailsWrite,
) -> TravelDetails:
    event, registration = await get_registration(
        session=session, principal=principal, event_id=event_id,
        registration_id=registration_id, token=token,
    )
    if event.type not in TRAVEL_TYPES:
        raise Conflict("Travel details are collected for delegation visits and study tours only")
    if registration.status not in (*LIVE, RegistrationStatus.ATTENDED.value):
        raise InvalidTransition(f"The registration is {registration.status}")
    # An upsert: two saves at once (two browser tabs) must not collide on the key.
    values = {**data.model_dump(), "updated_at": now()}
    stmt = pg_insert(TravelDetails).values(registration_id=registration.id, **values)
    stmt = stmt.on_conflict_do_update(index_elements=["registration_id"], set_=values)
    await session.execute(stmt.returning(TravelDetails.registration_id))
    return (await session.execute(
        sa.select(TravelDetails).where(TravelDetails.registration_id == registration.id)
        .execution_options(populate_existing=True)
    )).scalar_one()


def travel_events_only(event: Event) -> None:
    if event.type not in TRAVEL_TYPES:
        raise NotFound("Invitation letters exist for delegation visits and study tours only")


async def invitation_letter_data(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID,
    registration_id: uuid.UUID, token: str | None,
) -> tuple[Event, Registration, TravelDetails]:
    event, registration, details = await get_travel_details(
        session=session, principal=principal, event_id=event_id,
        registration_id=registration_id, token=token,
    )
    travel_events_only(event)
    if registration.status not in SEATED:
        raise InvalidTransition(
            "An invitation letter is issued for a confirmed registration only",
            current_status=registration.status,
        )
    return event, registration, details


# -- time-driven lifecycle -----------------------------------------------------------


async def sweep_lifecycle(*, session: AsyncSession, batch: int = 100) -> tuple[int, int]:
    """Move events on when time passes: registration closes at the end of the window (or
    at the start), and an event is completed once it has ended. Rows another replica is
    sweeping are skipped. Returns (closed, completed)."""
    at = now()
    closing = (await session.execute(
        sa.select(Event)
        .where(Event.status == EventStatus.PUBLISHED.value)
        .where(sa.func.coalesce(Event.registration_closes_at, Event.starts_at) <= at)
        .where(Event.ends_at > at)
        .order_by(Event.starts_at).limit(batch)
        .with_for_update(skip_locked=True)
    )).scalars().all()
    for event in closing:
        event.status = EventStatus.REGISTRATION_CLOSED.value
        event.version += 1
        event.updated_at = at
        await publish(session, EventRegistrationClosedV1(event_id=event.id, closed_at=at))
    ending = (await session.execute(
        sa.select(Event)
        .where(Event.status.in_([EventStatus.PUBLISHED.value,
                                 EventStatus.REGISTRATION_CLOSED.value]))
        .where(Event.ends_at <= at)
        .order_by(Event.ends_at).limit(batch)
        .with_for_update(skip_locked=True)
    )).scalars().all()
    for event in ending:
        event.status = EventStatus.COMPLETED.value
        event.version += 1
        event.updated_at = at
        attended = (await session.execute(
            sa.select(sa.func.count()).select_from(Registration)
            .where(Registration.event_id == event.id)
            .where(Registration.status == RegistrationStatus.ATTENDED.value)
        )).scalar_one()
        await publish(session, EventCompletedV1(event_id=event.id, completed_at=at,
                                                attended=attended))
    await session.flush()
    return len(closing), len(ending)


# -- programme sessions --------------------------------------------------------------


async def add_session(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID, data: SessionCreate
) -> AgendaSession:
    event = await _organised_event(session, principal, event_id)
    if event.status not in EDITABLE:
        raise InvalidTransition(f"The programme of a {event.status} event is closed")
    if data.starts_at < event.starts_at or data.ends_at > event.ends_at:
        raise _bad_field("starts_at", "a session must lie within the event's start and end")
    item = AgendaSession(event_id=event.id, **data.model_dump())
    session.add(item)
    await session.flush()
    return item


async def list_sessions(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID, limit: int,
    cursor: str | None,
) -> tuple[list[AgendaSession], str | None]:
    event = await get_event(session=session, principal=principal, event_id=event_id)
    stmt = sa.select(AgendaSession).where(AgendaSession.event_id == event.id)
    stmt = keyset(stmt, [AgendaSession.starts_at, AgendaSession.id], cursor, limit)
    rows = (await session.execute(stmt)).scalars().all()
    return page(rows, limit, key=lambda a: (a.starts_at, a.id))


async def remove_session(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    event = await _organised_event(session, principal, event_id)
    if event.status not in EDITABLE:
        raise InvalidTransition(f"The programme of a {event.status} event is closed")
    result = await session.execute(
        sa.delete(AgendaSession).where(AgendaSession.event_id == event.id)
        .where(AgendaSession.id == session_id)
    )
    if result.rowcount == 0:
        raise NotFound(f"Session {session_id} not found")
