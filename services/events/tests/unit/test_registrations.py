"""Registrations in-process: seat counting, moderation, the waitlist served in order,
check-in, refusals, and the events each change writes to the outbox."""

from __future__ import annotations

import uuid

import pytest
from innopark_events.events import service as events
from innopark_events.events.schemas import EventUpdate
from innopark_events.registrations import queries, seats
from innopark_events.registrations import service as registrations
from innopark_events.registrations.service import AlreadyRegistered, RegistrationClosed
from innopark_shared.auth import Role
from innopark_shared.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    Unauthorized,
    Unprocessable,
)


async def _seats(db_session, event):
    return await queries.seat_counts(session=db_session, principal=None, event_id=event.id)


async def _status(db_session, operator, event, new) -> str:
    registration = await registrations.get_registration(
        session=db_session,
        principal=operator,
        event_id=event.id,
        registration_id=new.registration.id,
        token=None,
    )
    return registration.status


async def test_capacity_is_never_exceeded(db_session, make_event, register, outbox):
    event = await make_event(capacity=3)
    made = [await register(event) for _ in range(5)]

    assert [m.registration.status for m in made] == ["confirmed"] * 3 + ["waitlisted"] * 2
    tickets = [m.registration.ticket_code for m in made]
    assert all(tickets[:3]) and len(set(tickets[:3])) == 3 and tickets[3:] == [None, None]
    counted = await _seats(db_session, event)
    assert (counted.confirmed, counted.waitlisted, counted.pending, counted.available) == (
        3,
        2,
        0,
        0,
    )
    assert await seats.seated(db_session, event.id) == event.capacity

    written = await outbox.events("registration.")
    assert [e.type.rsplit(".", 2)[-2] for e in written] == ["confirmed"] * 3 + ["waitlisted"] * 2
    assert [e.key for e in written] == [str(m.registration.id) for m in made]
    # Registration events carry no personal data.
    assert not any("email" in e.data or "full_name" in e.data for e in written)


async def test_a_pending_registration_holds_no_seat(
    db_session, operator, make_event, register, outbox
):
    """The rule today: on a moderated event every registration is `pending`, whatever
    the seats; the seat is decided on approval (confirmed while one is free, else
    waitlisted), so pending ones never count against the capacity."""
    event = await make_event(capacity=1, moderated=True)
    a, b, c = [await register(event) for _ in range(3)]
    assert {a.registration.status, b.registration.status, c.registration.status} == {"pending"}
    assert a.registration.ticket_code is None
    counted = await _seats(db_session, event)
    assert (counted.confirmed, counted.pending, counted.available) == (0, 3, 1)

    approved = await registrations.confirm_registration(
        session=db_session,
        principal=operator,
        event_id=event.id,
        registration_id=a.registration.id,
    )
    assert approved.status == "confirmed" and approved.ticket_code
    full = await registrations.confirm_registration(
        session=db_session,
        principal=operator,
        event_id=event.id,
        registration_id=b.registration.id,
    )
    assert full.status == "waitlisted" and full.ticket_code is None
    rejected = await registrations.reject_registration(
        session=db_session,
        principal=operator,
        event_id=event.id,
        registration_id=c.registration.id,
        reason="not a member of the delegation",
    )
    assert rejected.status == "rejected"
    assert rejected.decision_reason == "not a member of the delegation"
    with pytest.raises(InvalidTransition):
        await registrations.confirm_registration(
            session=db_session,
            principal=operator,
            event_id=event.id,
            registration_id=c.registration.id,
        )
    counted = await _seats(db_session, event)
    assert (counted.confirmed, counted.waitlisted, counted.pending) == (1, 1, 0)

    types = await outbox.types()
    assert types[-6:] == [
        "registration.pending.v1",
        "registration.pending.v1",
        "registration.pending.v1",
        "registration.confirmed.v1",
        "registration.waitlisted.v1",
        "registration.rejected.v1",
    ]
    [confirmed] = await outbox.events("registration.confirmed")
    assert confirmed.data["promoted_from_waitlist"] is False
    [rejection] = await outbox.events("registration.rejected")
    assert rejection.data["reason"] == "not a member of the delegation"


async def test_moderation_is_for_organisers(db_session, helpers, make_event, register):
    event = await make_event(capacity=1, moderated=True)
    pending = await register(event)
    stranger = helpers.principal(Role.PARK_MANAGER, park_id=uuid.uuid4())
    with pytest.raises(Forbidden):
        await registrations.confirm_registration(
            session=db_session,
            principal=stranger,
            event_id=event.id,
            registration_id=pending.registration.id,
        )


async def test_a_cancellation_promotes_the_first_waitlisted(
    db_session, operator, make_event, register, outbox
):
    event = await make_event(capacity=2)
    first, second, third, fourth, fifth = [await register(event) for _ in range(5)]
    assert (
        await queries.waitlist_position(session=db_session, registration=fourth.registration) == 2
    )

    cancelled = await registrations.cancel_registration(
        session=db_session,
        principal=None,
        event_id=event.id,
        registration_id=second.registration.id,
        token=second.token,
    )
    assert cancelled.status == "cancelled"
    # The first waitlisted (by arrival), not a later one, got the seat, with a ticket.
    assert third.registration.status == "confirmed" and third.registration.ticket_code
    assert (fourth.registration.status, fifth.registration.status) == ("waitlisted",) * 2
    assert (
        await queries.waitlist_position(session=db_session, registration=fourth.registration) == 1
    )
    [promotion] = [
        e
        for e in await outbox.events("registration.confirmed")
        if e.key == str(third.registration.id)
    ]
    assert promotion.data["promoted_from_waitlist"] is True
    [cancellation] = await outbox.events("registration.cancelled")
    assert cancellation.data["previous_status"] == "confirmed"
    assert cancellation.data["by_event_cancellation"] is False

    # A waitlisted registration freeing its place promotes nobody.
    await registrations.cancel_registration(
        session=db_session,
        principal=operator,
        event_id=event.id,
        registration_id=fourth.registration.id,
        token=None,
    )
    assert fifth.registration.status == "waitlisted"
    assert await queries.waitlist_position(session=db_session, registration=fifth.registration) == 1
    counted = await _seats(db_session, event)
    assert (counted.confirmed, counted.waitlisted) == (2, 1)

    with pytest.raises(InvalidTransition):
        await registrations.cancel_registration(
            session=db_session,
            principal=None,
            event_id=event.id,
            registration_id=second.registration.id,
            token=second.token,
        )
    # Another registrant's token does not reach this registration: it does not exist.
    with pytest.raises(NotFound):
        await registrations.cancel_registration(
            session=db_session,
            principal=None,
            event_id=event.id,
            registration_id=fifth.registration.id,
            token=first.token,
        )


async def test_changing_the_capacity_serves_the_waitlist_in_order(
    db_session, operator, make_event, register
):
    event = await make_event(capacity=1)
    made = [await register(event) for _ in range(4)]
    await events.update_event(
        session=db_session,
        principal=operator,
        event_id=event.id,
        data=EventUpdate(capacity=3),
        if_match=None,
    )
    assert [m.registration.status for m in made] == ["confirmed"] * 3 + ["waitlisted"]
    with pytest.raises(Conflict) as lowered:
        await events.update_event(
            session=db_session,
            principal=operator,
            event_id=event.id,
            data=EventUpdate(capacity=2),
            if_match=None,
        )
    assert lowered.value.extensions["confirmed"] == 3


async def test_check_in_once_with_a_valid_ticket(
    db_session, operator, make_event, register, outbox
):
    event = await make_event(capacity=1)
    seated, queued = await register(event), await register(event)

    with pytest.raises(NotFound):
        await registrations.check_in(
            session=db_session, principal=operator, event_id=event.id, ticket_code="nope"
        )
    attended = await registrations.check_in(
        session=db_session,
        principal=operator,
        event_id=event.id,
        ticket_code=seated.registration.ticket_code,
    )
    assert attended.status == "attended" and attended.checked_in_at is not None
    with pytest.raises(Conflict, match="already been used"):
        await registrations.check_in(
            session=db_session,
            principal=operator,
            event_id=event.id,
            ticket_code=seated.registration.ticket_code,
        )
    # An attended registration still holds its seat: nobody is promoted.
    assert queued.registration.status == "waitlisted"
    assert await seats.seated(db_session, event.id) == 1
    [written] = await outbox.events("registration.attended")
    assert written.key == str(seated.registration.id)

    # A cancelled registration's ticket is refused.
    other = await make_event(capacity=1)
    gone = await register(other)
    await registrations.cancel_registration(
        session=db_session,
        principal=None,
        event_id=other.id,
        registration_id=gone.registration.id,
        token=gone.token,
    )
    with pytest.raises(InvalidTransition):
        await registrations.check_in(
            session=db_session,
            principal=operator,
            event_id=other.id,
            ticket_code=gone.registration.ticket_code,
        )


async def test_refusals(db_session, helpers, operator, make_event, register):
    draft = await make_event(publish=False)
    with pytest.raises(NotFound):
        await register(draft)
    event = await make_event()
    someone = await register(event)
    with pytest.raises(AlreadyRegistered):
        await register(event, email=someone.registration.email.upper())
    await registrations.cancel_registration(
        session=db_session,
        principal=None,
        event_id=event.id,
        registration_id=someone.registration.id,
        token=someone.token,
    )
    again = await register(event, email=someone.registration.email)  # cancelled: may retry
    assert again.registration.status == "confirmed"

    with pytest.raises(Unprocessable) as travel:
        await register(
            event,
            travel={
                "passport_name": "LI WEI",
                "nationality": "CN",
                "date_of_birth": "1985-04-12",
                "passport_number": "E12345678",
                "stay_from": "2031-06-01",
                "stay_to": "2031-06-08",
            },
        )
    assert travel.value.extensions["errors"][0]["field"] == "travel"

    members = await make_event(audience="members")
    with pytest.raises(Unauthorized):
        await register(members)
    with pytest.raises(Forbidden):
        await register(members, by=helpers.principal(Role.EXPERT))
    assert (await register(members, by=operator)).registration.status == "confirmed"

    await events.close_registration(session=db_session, principal=operator, event_id=event.id)
    with pytest.raises(RegistrationClosed):
        await register(event)
