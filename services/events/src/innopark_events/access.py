"""Who may see and run what: an event's organisers, and a registration's registrant.

Organisers of an event are its creator (token subject) and every operator. A draft is
seen by its organisers only; a registration by its registrant (private token, or the user
who registered) and the organisers. To anyone else they do not exist (404).

Every package finds events and registrations through these functions, so the rules are
written once; a `lock=True` read takes the row lock the seat rules depend on (the event
row first, then the registration: the same order everywhere).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.errors import Forbidden, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Event, EventStatus, Registration


@dataclass(frozen=True, slots=True)
class EventRegistration:
    """A registration, with the event it is for."""

    event: Event
    registration: Registration


def is_organiser(principal: Principal | None, event: Event) -> bool:
    if principal is None:
        return False
    return principal.is_operator or principal.subject == event.organiser_subject


def can_see(principal: Principal | None, event: Event) -> bool:
    return event.status != EventStatus.DRAFT or is_organiser(principal, event)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def visible_event(
    session: AsyncSession, principal: Principal | None, event_id: uuid.UUID, *, lock: bool = False
) -> Event:
    """The event, if the caller may see it (404 otherwise)."""
    stmt = sa.select(Event).where(Event.id == event_id)
    if lock:
        stmt = stmt.with_for_update()
    event = (await session.execute(stmt)).scalar_one_or_none()
    if event is None or not can_see(principal, event):
        raise NotFound(f"Event {event_id} not found")
    return event


async def organised_event(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, *, lock: bool = False
) -> Event:
    """The event, if the caller organises it (403 when they only see it)."""
    event = await visible_event(session, principal, event_id, lock=lock)
    if not is_organiser(principal, event):
        raise Forbidden("Only the event's organiser or an operator may do this")
    return event


async def find_registration(
    session: AsyncSession,
    event_id: uuid.UUID,
    registration_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Registration:
    """A registration of the event, whoever asks (callers check who may)."""
    stmt = (
        sa.select(Registration)
        .where(Registration.id == registration_id)
        .where(Registration.event_id == event_id)
    )
    if lock:
        stmt = stmt.with_for_update()
    registration = (await session.execute(stmt)).scalar_one_or_none()
    if registration is None:
        raise NotFound(f"Registration {registration_id} not found")
    return registration


async def registration_for(
    session: AsyncSession,
    principal: Principal | None,
    event_id: uuid.UUID,
    registration_id: uuid.UUID,
    token: str | None,
    *,
    lock: bool = False,
) -> EventRegistration:
    """The registration, if the caller is its registrant or an organiser of the event."""
    stmt = sa.select(Event).where(Event.id == event_id)
    if lock:
        stmt = stmt.with_for_update()
    event = (await session.execute(stmt)).scalar_one_or_none()
    missing = NotFound(f"Registration {registration_id} not found")
    if event is None:
        raise missing
    registration = await find_registration(session, event_id, registration_id, lock=lock)
    allowed = (
        is_organiser(principal, event)
        or (
            token is not None and secrets.compare_digest(hash_token(token), registration.token_hash)
        )
        or (principal is not None and registration.registrant_subject == principal.subject)
    )
    if not allowed:
        raise missing
    return EventRegistration(event, registration)
