"""Seats and the waitlist.

Every operation that can take or free a seat (register, confirm, cancel, a capacity
change, cancelling the event) first locks the event row (`SELECT ... FOR UPDATE`), so
those operations on one event run one at a time and the count of seats read under the
lock is exact: capacity is never exceeded, and the waitlist is served in arrival order
(`seq`). Which statuses hold a seat is `models.SEATED` (a `pending` registration does not).
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import LIVE, RUNNING, SEATED, Event, Registration, RegistrationStatus
from .actions import RegistrationAction, move

_gates: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = weakref.WeakValueDictionary()


@asynccontextmanager
async def event_gate(event_id: uuid.UUID) -> AsyncIterator[None]:
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


async def seated(session: AsyncSession, event_id: uuid.UUID) -> int:
    """Seats taken (confirmed and attended registrations)."""
    return (
        await session.execute(
            sa.select(sa.func.count())
            .select_from(Registration)
            .where(Registration.event_id == event_id)
            .where(Registration.status.in_([s.value for s in SEATED]))
        )
    ).scalar_one()


async def attended(session: AsyncSession, event_id: uuid.UUID) -> int:
    return (
        await session.execute(
            sa.select(sa.func.count())
            .select_from(Registration)
            .where(Registration.event_id == event_id)
            .where(Registration.status == RegistrationStatus.ATTENDED.value)
        )
    ).scalar_one()


async def has_free_seat(session: AsyncSession, event: Event) -> bool:
    """The event row is locked by the caller."""
    return await seated(session, event.id) < event.capacity


async def promote_waitlisted(session: AsyncSession, event: Event) -> list[Registration]:
    """Give free seats to the waitlist, first come first served; the promoted, in order.
    The event row is locked by the caller."""
    if event.status not in RUNNING:
        return []
    free = event.capacity - await seated(session, event.id)
    if free <= 0:
        return []
    waiting = (
        (
            await session.execute(
                sa.select(Registration)
                .where(Registration.event_id == event.id)
                .where(Registration.status == RegistrationStatus.WAITLISTED.value)
                .order_by(Registration.seq)
                .limit(free)
            )
        )
        .scalars()
        .all()
    )
    for registration in waiting:
        await move(session, registration, RegistrationAction.PROMOTE, RegistrationStatus.CONFIRMED)
    return list(waiting)


async def cancel_live_registrations(session: AsyncSession, event: Event) -> list[Registration]:
    """The event will not happen: every registration still live is cancelled, each with
    its own event (`by_event_cancellation`), and nobody is promoted into the freed seats.
    The event row is locked by the caller."""
    live = (
        (
            await session.execute(
                sa.select(Registration)
                .where(Registration.event_id == event.id)
                .where(Registration.status.in_([s.value for s in LIVE]))
                .order_by(Registration.seq)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    for registration in live:
        await move(
            session,
            registration,
            RegistrationAction.CANCEL,
            RegistrationStatus.CANCELLED,
            by_event_cancellation=True,
        )
    return list(live)
