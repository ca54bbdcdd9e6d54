"""E-mails to registrants, recorded in the transaction of each change: received, confirmed,
promoted from the waitlist, the event cancelled — and nothing for what is not told."""

from __future__ import annotations

from innopark_events.events import service as events
from innopark_events.registrations import service as registrations
from innopark_shared.notifications import PUBLIC_BASE_URL


async def test_registration_received_says_what_happens_next(make_event, register, notifications):
    event = await make_event(capacity=1, venue="Technopark hall A")
    confirmed = await register(event)
    waitlisted = await register(event)

    sent = await notifications.all("registration.received")
    assert [n.recipient for n in sent] == [
        confirmed.registration.email,
        waitlisted.registration.email,
    ]
    first, second = sent
    assert first.subject == f"Registration received: {event.title}"
    assert f"Dear {confirmed.registration.full_name}," in first.body
    assert confirmed.registration.ticket_code in first.body
    assert "Technopark hall A" in first.body and "(Europe/Moscow)" in first.body
    assert "waitlist" in second.body and "ticket code" not in second.body
    link = f"{PUBLIC_BASE_URL}/api/v1/events/{event.id}/registrations/{confirmed.registration.id}"
    assert link in first.body
    # The private token is shown once, in the answer, and never mailed.
    assert confirmed.token not in first.body


async def test_moderation_confirms_and_a_freed_seat_promotes(
    db_session, make_event, register, operator, notifications
):
    event = await make_event(capacity=1, moderated=True)
    first, second = await register(event), await register(event)
    await registrations.confirm_registration(
        session=db_session,
        principal=operator,
        event_id=event.id,
        registration_id=first.registration.id,
    )
    await registrations.confirm_registration(
        session=db_session,
        principal=operator,
        event_id=event.id,
        registration_id=second.registration.id,
    )
    await registrations.cancel_registration(
        session=db_session,
        principal=None,
        event_id=event.id,
        registration_id=first.registration.id,
        token=first.token,
    )
    assert await notifications.kinds() == [
        "registration.received",
        "registration.received",
        "registration.confirmed",
        "registration.waitlisted",
        "registration.promoted",  # the cancellation by the registrant itself tells nobody
    ]
    promoted = (await notifications.all("registration.promoted"))[0]
    assert promoted.recipient == second.registration.email
    assert promoted.subject == f"A seat is yours: {event.title}"
    assert second.registration.ticket_code and second.registration.ticket_code in promoted.body
    received = (await notifications.all("registration.received"))[0]
    assert "review registrations" in received.body


async def test_a_cancelled_event_tells_every_live_registrant(
    db_session, make_event, register, operator, notifications
):
    event = await make_event(capacity=1)
    live = [await register(event), await register(event)]
    gone = await register(event)
    await registrations.cancel_registration(
        session=db_session,
        principal=None,
        event_id=event.id,
        registration_id=gone.registration.id,
        token=gone.token,
    )
    await events.cancel_event(
        session=db_session, principal=operator, event_id=event.id, reason="The venue flooded"
    )
    told = await notifications.all("event.cancelled")
    assert sorted(n.recipient for n in told) == sorted(r.registration.email for r in live)
    assert all(n.subject == f"Cancelled: {event.title}" for n in told)
    assert all("The organisers' reason: The venue flooded" in n.body for n in told)
