"""Events in-process: the lifecycle and its refusals, the registrations cancelled with an
event, changes (PATCH rules, If-Match, versions), the time-driven sweep, host parks, and
the events written to the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from innopark_events.events import queries
from innopark_events.events import service as events
from innopark_events.events.schemas import EventUpdate
from innopark_events.events.service import TRANSITIONS, EventAction
from innopark_events.models import known_parks
from innopark_events.registrations import queries as registration_queries
from innopark_events.registrations import service as registrations
from innopark_shared.auth import Role
from innopark_shared.contracts.registry import ParkCreatedV1
from innopark_shared.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from innopark_shared.readmodels.parks import apply_park_snapshot
from pydantic import ValidationError


async def test_lifecycle_moves_and_announces(db_session, operator, make_event, register, outbox):
    event = await make_event(publish=False, capacity=5)
    assert event.status == "draft" and await outbox.types() == []
    with pytest.raises(NotFound):  # drafts are the organisers' only
        await events.get_event(session=db_session, principal=None, event_id=event.id)
    with pytest.raises(InvalidTransition):
        await events.complete_event(session=db_session, principal=operator, event_id=event.id)

    await events.publish_event(session=db_session, principal=operator, event_id=event.id)
    assert event.status == "published"
    with pytest.raises(InvalidTransition) as twice:
        await events.publish_event(session=db_session, principal=operator, event_id=event.id)
    assert twice.value.extensions["current_status"] == "published"
    [published] = await outbox.events("event.published")
    assert published.key == str(event.id)
    assert published.data["title"] == event.title and published.data["capacity"] == 5
    assert published.data["timezone"] == "Europe/Moscow"

    came, stayed_home = await register(event), await register(event)
    await events.close_registration(session=db_session, principal=operator, event_id=event.id)
    assert event.status == "registration_closed"
    await registrations.check_in(
        session=db_session,
        principal=operator,
        event_id=event.id,
        ticket_code=came.registration.ticket_code,
    )
    await events.complete_event(session=db_session, principal=operator, event_id=event.id)
    assert event.status == "completed"
    [completed] = await outbox.events("event.completed")
    assert completed.data["attended"] == 1
    assert stayed_home.registration.status == "confirmed"  # completion cancels nobody

    for refused in (events.cancel_event, events.complete_event):
        kwargs = {"reason": None} if refused is events.cancel_event else {}
        with pytest.raises(InvalidTransition):
            await refused(session=db_session, principal=operator, event_id=event.id, **kwargs)
    with pytest.raises(InvalidTransition):
        await events.update_event(
            session=db_session,
            principal=operator,
            event_id=event.id,
            data=EventUpdate(title="Late"),
            if_match=None,
        )
    assert (await outbox.types())[:1] == ["event.published.v1"]
    assert "event.registration_closed.v1" in await outbox.types()


def test_the_transition_table():
    assert {action: to.value for action, (_, to) in TRANSITIONS.items()} == {
        EventAction.PUBLISH: "published",
        EventAction.CLOSE_REGISTRATION: "registration_closed",
        EventAction.COMPLETE: "completed",
        EventAction.CANCEL: "cancelled",
    }
    allowed_from, _ = TRANSITIONS[EventAction.CANCEL]
    assert {s.value for s in allowed_from} == {"draft", "published", "registration_closed"}


async def test_an_ended_event_cannot_be_published(db_session, operator, make_event):
    past = datetime.now(UTC) - timedelta(days=2)
    event = await make_event(publish=False, starts_at=past, ends_at=past + timedelta(hours=2))
    with pytest.raises(InvalidTransition, match="already ended"):
        await events.publish_event(session=db_session, principal=operator, event_id=event.id)


async def test_cancelling_the_event_cancels_every_live_registration(
    db_session, operator, make_event, register, outbox
):
    event = await make_event(capacity=1)
    seated, queued, gone = [await register(event) for _ in range(3)]
    await registrations.cancel_registration(
        session=db_session,
        principal=None,
        event_id=event.id,
        registration_id=gone.registration.id,
        token=gone.token,
    )
    before = len(await outbox.events("registration.cancelled"))

    cancelled = await events.cancel_event(
        session=db_session, principal=operator, event_id=event.id, reason="venue lost"
    )
    assert cancelled.status == "cancelled" and cancelled.cancellation_reason == "venue lost"
    assert (seated.registration.status, queued.registration.status) == ("cancelled",) * 2
    counted = await registration_queries.seat_counts(
        session=db_session, principal=None, event_id=event.id
    )
    assert (counted.confirmed, counted.waitlisted, counted.pending) == (0, 0, 0)

    [announced] = await outbox.events("event.cancelled")
    assert announced.data["reason"] == "venue lost"
    by_event = (await outbox.events("registration.cancelled"))[before:]
    assert [
        (e.key, e.data["previous_status"], e.data["by_event_cancellation"]) for e in by_event
    ] == [
        (str(seated.registration.id), "confirmed", True),
        (str(queued.registration.id), "waitlisted", True),
    ]
    # Nobody was promoted into the seat freed by an event that will not happen.
    promoted = [
        e for e in await outbox.events("registration.confirmed") if e.data["promoted_from_waitlist"]
    ]
    assert promoted == []


async def test_cancelling_a_moderated_event_cancels_pending_ones(
    db_session, operator, make_event, register, outbox
):
    event = await make_event(moderated=True)
    pending = await register(event)
    await events.cancel_event(
        session=db_session, principal=operator, event_id=event.id, reason=None
    )
    assert pending.registration.status == "cancelled"
    [written] = await outbox.events("registration.cancelled")
    assert written.data["previous_status"] == "pending"


async def test_changes_follow_the_patch_rules(db_session, operator, make_event, outbox):
    event = await make_event(publish=False)
    assert event.version == 1
    changed = await events.update_event(
        session=db_session,
        principal=operator,
        event_id=event.id,
        data=EventUpdate.model_validate({"title": "Strategic session", "description": None}),
        if_match=f'"{event.id}-1"',
    )
    assert changed.title == "Strategic session" and changed.description is None
    assert changed.version == 2  # one change, one version (no hand-made bumps)
    assert await outbox.types() == []  # a draft announces nothing
    with pytest.raises(PreconditionFailed):
        await events.update_event(
            session=db_session,
            principal=operator,
            event_id=event.id,
            data=EventUpdate(capacity=20),
            if_match=f'"{event.id}-1"',
        )
    with pytest.raises(Unprocessable) as backwards:
        await events.update_event(
            session=db_session,
            principal=operator,
            event_id=event.id,
            data=EventUpdate(ends_at=event.starts_at - timedelta(hours=1)),
            if_match=None,
        )
    assert backwards.value.extensions["errors"][0]["field"] == "ends_at"

    published = await make_event()
    await events.update_event(
        session=db_session,
        principal=operator,
        event_id=published.id,
        data=EventUpdate(capacity=50),
        if_match=None,
    )
    [updated] = await outbox.events("event.updated")
    assert updated.data["capacity"] == 50 and updated.key == str(published.id)


@pytest.mark.parametrize("field", sorted(EventUpdate.not_null))
def test_null_for_a_required_field_names_it(field):
    with pytest.raises(ValidationError) as refused:
        EventUpdate.model_validate({field: None})
    assert [e["loc"] for e in refused.value.errors()] == [(field,)]


def test_null_clears_an_optional_field():
    assert EventUpdate.model_validate({"venue": None, "host_park_id": None}).changes() == {
        "venue": None,
        "host_park_id": None,
    }


async def test_time_moves_events_on(db_session, operator, make_event, outbox):
    closing = await make_event(registration_closes_at=datetime.now(UTC) - timedelta(minutes=1))
    ending = await make_event()
    # Time passes for `ending`: it started and ended already.
    ending.starts_at = datetime.now(UTC) - timedelta(hours=3)
    ending.ends_at = datetime.now(UTC) - timedelta(hours=1)
    await db_session.flush()

    swept = await events.sweep_lifecycle(session=db_session)
    assert swept.closed >= 1 and swept.completed >= 1
    assert (closing.status, ending.status) == ("registration_closed", "completed")
    assert [e.key for e in await outbox.events("event.registration_closed")] == [str(closing.id)]
    [completed] = await outbox.events("event.completed")
    assert completed.key == str(ending.id) and completed.data["attended"] == 0
    again = await events.sweep_lifecycle(session=db_session)
    assert (again.closed, again.completed) == (0, 0)


async def test_park_managers_host_at_their_own_known_park(db_session, helpers, make_event):
    park_id = uuid.uuid4()
    manager = helpers.principal(Role.PARK_MANAGER, park_id=park_id)
    with pytest.raises(Unprocessable) as unknown:
        await make_event(by=manager, host_park_id=park_id)
    assert unknown.value.extensions["errors"][0]["field"] == "host_park_id"

    await apply_park_snapshot(
        db_session,
        known_parks,
        ParkCreatedV1(
            park_id=park_id,
            name="Technopolis Himgrad",
            kind="technopolis",
            country="RU",
            region="Tatarstan",
            city="Kazan",
            specializations=["chemistry"],
            created_at=datetime.now(UTC),
        ),
        None,
    )
    hosted = await make_event(by=manager, host_park_id=park_id, city=None, country=None)
    assert (hosted.city, hosted.country, hosted.organiser_subject) == (
        "Kazan",
        "RU",
        manager.subject,
    )
    with pytest.raises(Forbidden):
        await make_event(by=manager, host_park_id=None)
    # Someone else's manager sees the event but does not organise it.
    other = helpers.principal(Role.PARK_MANAGER, park_id=uuid.uuid4())
    with pytest.raises(Forbidden):
        await events.close_registration(session=db_session, principal=other, event_id=hosted.id)


async def test_listing_pages_and_filters(db_session, operator, make_event, helpers):
    marker = uuid.uuid4().hex[:10]
    made = [await make_event(title=f"Training 100%_{marker}", type="training") for _ in range(3)]
    draft = await make_event(publish=False, title=f"Draft {marker}")
    seen, cursor = [], None
    while True:
        page = await queries.list_events(
            session=db_session, principal=None, limit=2, cursor=cursor, q=f"100%_{marker}"
        )
        seen += [e.id for e in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(seen) == sorted(e.id for e in made)
    # LIKE wildcards in `q` are literal: "100%" does not match "100 anything".
    none = await queries.list_events(
        session=db_session, principal=None, limit=10, cursor=None, q=f"10%{marker}"
    )
    assert none.items == []
    # Drafts: the organiser sees them, others not.
    mine = await queries.list_events(
        session=db_session, principal=operator, limit=10, cursor=None, q=marker
    )
    assert draft.id in {e.id for e in mine.items}
    anyone = await queries.list_events(
        session=db_session, principal=None, limit=10, cursor=None, q=marker
    )
    assert draft.id not in {e.id for e in anyone.items}
    with pytest.raises(Unprocessable):
        await queries.list_events(
            session=db_session, principal=None, limit=10, cursor="forged", q=marker
        )
