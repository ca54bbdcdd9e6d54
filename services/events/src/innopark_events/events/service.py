"""Events: create, change, and move through `draft -> published -> registration_closed ->
completed | cancelled`, by hand (organisers) or as time passes (the lifecycle sweep).
They flush, never commit: the caller owns the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.contracts.events import (
    EventCancelledV1,
    EventCompletedV1,
    EventPublishedV1,
    EventRegistrationClosedV1,
    EventUpdatedV1,
)
from innopark_shared.errors import Conflict, Forbidden, InvalidTransition, Unprocessable
from innopark_shared.http import check_if_match
from sqlalchemy.ext.asyncio import AsyncSession

from .. import hostparks
from ..access import organised_event, visible_event
from ..models import EDITABLE, RUNNING, Event, EventStatus, outbox
from ..registrations import seats
from .schemas import EventCreate, EventUpdate

E = EventStatus


class EventAction(StrEnum):
    PUBLISH = "publish"
    CLOSE_REGISTRATION = "close_registration"
    COMPLETE = "complete"
    CANCEL = "cancel"


# Each action: the statuses it starts from, and the status it leads to.
TRANSITIONS: dict[EventAction, tuple[frozenset[EventStatus], EventStatus]] = {
    EventAction.PUBLISH: (frozenset({E.DRAFT}), E.PUBLISHED),
    EventAction.CLOSE_REGISTRATION: (frozenset({E.PUBLISHED}), E.REGISTRATION_CLOSED),
    EventAction.COMPLETE: (RUNNING, E.COMPLETED),
    EventAction.CANCEL: (EDITABLE, E.CANCELLED),
}


@dataclass(frozen=True, slots=True)
class Swept:
    """What one lifecycle sweep moved on."""

    closed: int
    completed: int


def _snapshot(cls: type[EventPublishedV1], event: Event) -> EventPublishedV1:
    return cls(
        event_id=event.id,
        title=event.title,
        type=event.type,
        format=event.format,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        timezone=event.timezone,
        audience=event.audience,
        capacity=event.capacity,
        host_park_id=event.host_park_id,
        city=event.city,
        country=event.country,
        languages=list(event.languages or []),
        registration_opens_at=event.registration_opens_at,
        registration_closes_at=event.registration_closes_at,
        organiser_name=event.organiser_name,
    )


async def _check_host_park(
    session: AsyncSession, principal: Principal, host_park_id: uuid.UUID | None
) -> Any | None:
    if principal.role is Role.PARK_MANAGER and host_park_id != principal.park_id:
        raise Forbidden("A park manager organises events hosted at their own park only")
    if host_park_id is None:
        return None
    park = await hostparks.known_park(session, host_park_id)
    if park is None:
        raise Unprocessable.for_field("host_park_id", "no such park in the registry")
    return park


# -- create, read, change ------------------------------------------------------------

# The fields a change is checked against, taken together.
_CHECKED = ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at")


async def create_event(*, session: AsyncSession, principal: Principal, data: EventCreate) -> Event:
    """A draft; a host park lends its city and country when the event gives none."""
    park = await _check_host_park(session, principal, data.host_park_id)
    values = data.model_dump()
    if park is not None:
        values["city"] = values["city"] or park.city
        values["country"] = values["country"] or park.country
    event = Event(**values, status=E.DRAFT.value, organiser_subject=principal.subject)
    session.add(event)
    await session.flush()
    return event


async def get_event(
    *, session: AsyncSession, principal: Principal | None, event_id: uuid.UUID
) -> Event:
    """Drafts are seen by their organisers only."""
    return await visible_event(session, principal, event_id)


async def update_event(
    *,
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    data: EventUpdate,
    if_match: str | None,
) -> Event:
    """Change an event not over yet. Raising the capacity serves the waitlist; lowering
    it below the seats already taken is refused."""
    event = await organised_event(session, principal, event_id, lock=True)
    check_if_match(if_match, event.id, event.version)
    if event.status not in EDITABLE:
        raise InvalidTransition(f"A {event.status} event can no longer be changed")
    changes = data.changes()
    if "host_park_id" in changes and changes["host_park_id"] != event.host_park_id:
        await _check_host_park(session, principal, changes["host_park_id"])
    # Check the event as it would be before changing the row: a refused change leaves
    # nothing behind in the session.
    after = {name: changes.get(name, getattr(event, name)) for name in _CHECKED}
    if after["ends_at"] <= after["starts_at"]:
        raise Unprocessable.for_field("ends_at", "ends_at must be after starts_at")
    opens, closes = after["registration_opens_at"], after["registration_closes_at"]
    if opens and closes and closes <= opens:
        raise Unprocessable.for_field(
            "registration_closes_at", "must be after registration_opens_at"
        )
    if "capacity" in changes:
        taken = await seats.seated(session, event.id)
        if changes["capacity"] < taken:
            raise Conflict(
                f"Capacity {changes['capacity']} is below the {taken} seats already confirmed",
                confirmed=taken,
            )
    for field, value in changes.items():
        setattr(event, field, value)
    event.updated_at = datetime.now(UTC)
    await session.flush()
    if "capacity" in changes:
        await seats.promote_waitlisted(session, event)
    if event.status != E.DRAFT:
        await outbox.add(session, _snapshot(EventUpdatedV1, event))
    return event


# -- lifecycle -----------------------------------------------------------------------


def _move(event: Event, action: EventAction, at: datetime) -> None:
    allowed_from, to = TRANSITIONS[action]
    if event.status not in allowed_from:
        raise InvalidTransition(
            f"Cannot move an event from {event.status} to {to.value}",
            current_status=event.status,
        )
    event.status = to.value
    event.updated_at = at


async def publish_event(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> Event:
    """draft -> published: visible, and open for registration in its window."""
    event = await organised_event(session, principal, event_id, lock=True)
    at = datetime.now(UTC)
    _move(event, EventAction.PUBLISH, at)
    if event.ends_at <= at:
        raise InvalidTransition("The event has already ended; it cannot be published")
    await session.flush()
    await outbox.add(session, _snapshot(EventPublishedV1, event))
    return event


async def _close_registration(session: AsyncSession, event: Event, at: datetime) -> None:
    _move(event, EventAction.CLOSE_REGISTRATION, at)
    await session.flush()
    await outbox.add(session, EventRegistrationClosedV1(event_id=event.id, closed_at=at))


async def close_registration(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> Event:
    """published -> registration_closed (also when the window ends, by the sweep)."""
    event = await organised_event(session, principal, event_id, lock=True)
    await _close_registration(session, event, datetime.now(UTC))
    return event


async def _complete(session: AsyncSession, event: Event, at: datetime) -> None:
    _move(event, EventAction.COMPLETE, at)
    await session.flush()
    attended = await seats.attended(session, event.id)
    await outbox.add(
        session, EventCompletedV1(event_id=event.id, completed_at=at, attended=attended)
    )


async def complete_event(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> Event:
    """published | registration_closed -> completed (also once it ends, by the sweep)."""
    event = await organised_event(session, principal, event_id, lock=True)
    await _complete(session, event, datetime.now(UTC))
    return event


async def cancel_event(
    *, session: AsyncSession, principal: Principal, event_id: uuid.UUID, reason: str | None
) -> Event:
    """Call off an event not over yet; every live registration is cancelled with it."""
    event = await organised_event(session, principal, event_id, lock=True)
    at = datetime.now(UTC)
    _move(event, EventAction.CANCEL, at)
    event.cancellation_reason = reason
    await session.flush()
    await outbox.add(session, EventCancelledV1(event_id=event.id, cancelled_at=at, reason=reason))
    # Nobody stays registered for an event that will not happen: registrants and their
    # systems hear of it through each registration's own event.
    await seats.cancel_live_registrations(session, event)
    return event


async def sweep_lifecycle(*, session: AsyncSession, batch: int = 100) -> Swept:
    """Move events on when time passes: registration closes at the end of the window (or
    at the start), and an event is completed once it has ended. Rows another replica is
    sweeping are skipped."""
    at = datetime.now(UTC)
    closing = (
        (
            await session.execute(
                sa.select(Event)
                .where(Event.status == E.PUBLISHED.value)
                .where(sa.func.coalesce(Event.registration_closes_at, Event.starts_at) <= at)
                .where(Event.ends_at > at)
                .order_by(Event.starts_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for event in closing:
        await _close_registration(session, event, at)
    ending = (
        (
            await session.execute(
                sa.select(Event)
                .where(Event.status.in_([s.value for s in RUNNING]))
                .where(Event.ends_at <= at)
                .order_by(Event.ends_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for event in ending:
        await _complete(session, event, at)
    return Swept(closed=len(closing), completed=len(ending))
