"""The programme in-process: sessions within the event's times, in time order, closed
once the event is over."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from innopark_events.events import service as events
from innopark_events.programme import queries
from innopark_events.programme import service as programme
from innopark_events.programme.schemas import SessionCreate
from innopark_shared.errors import InvalidTransition, NotFound, Unprocessable


def slot(event, hours: float, title: str, length: float = 1) -> SessionCreate:
    start = event.starts_at + timedelta(hours=hours)
    return SessionCreate(title=title, starts_at=start, ends_at=start + timedelta(hours=length))


async def test_sessions_in_time_order_within_the_event(db_session, operator, make_event):
    event = await make_event()
    later = await programme.add_session(
        session=db_session, principal=operator, event_id=event.id, data=slot(event, 2, "Clusters")
    )
    await programme.add_session(
        session=db_session, principal=operator, event_id=event.id, data=slot(event, 0, "Opening")
    )
    with pytest.raises(Unprocessable) as outside:
        await programme.add_session(
            session=db_session, principal=operator, event_id=event.id, data=slot(event, 9, "Late")
        )
    assert outside.value.extensions["errors"][0]["field"] == "starts_at"

    first = await queries.list_sessions(
        session=db_session, principal=None, event_id=event.id, limit=1, cursor=None
    )
    assert [s.title for s in first.items] == ["Opening"] and first.next_cursor
    rest = await queries.list_sessions(
        session=db_session, principal=None, event_id=event.id, limit=5, cursor=first.next_cursor
    )
    assert [s.title for s in rest.items] == ["Clusters"] and rest.next_cursor is None

    await programme.remove_session(
        session=db_session, principal=operator, event_id=event.id, session_id=later.id
    )
    with pytest.raises(NotFound):
        await programme.remove_session(
            session=db_session, principal=operator, event_id=event.id, session_id=later.id
        )
    with pytest.raises(NotFound):
        await programme.remove_session(
            session=db_session, principal=operator, event_id=event.id, session_id=uuid.uuid4()
        )


async def test_the_programme_of_a_finished_event_is_closed(db_session, operator, make_event):
    event = await make_event()
    await events.complete_event(session=db_session, principal=operator, event_id=event.id)
    with pytest.raises(InvalidTransition):
        await programme.add_session(
            session=db_session, principal=operator, event_id=event.id, data=slot(event, 1, "x")
        )


async def test_a_drafts_programme_is_the_organisers(db_session, operator, make_event):
    draft = await make_event(publish=False)
    with pytest.raises(NotFound):
        await queries.list_sessions(
            session=db_session, principal=None, event_id=draft.id, limit=5, cursor=None
        )
    own = await queries.list_sessions(
        session=db_session, principal=operator, event_id=draft.id, limit=5, cursor=None
    )
    assert own.items == []
