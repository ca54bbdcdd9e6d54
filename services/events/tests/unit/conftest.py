"""Builders for the unit tier: service functions called in-process on `db_session` (a
migrated database, each test rolled back)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from innopark_events.events import service as events
from innopark_events.events.schemas import EventCreate
from innopark_events.models import Event
from innopark_events.registrations import service as registrations
from innopark_events.registrations.schemas import RegistrationCreate
from innopark_events.registrations.service import NewRegistration
from innopark_shared.auth import Principal, Role


def principal(role: Role = Role.OPERATOR, **binding: Any) -> Principal:
    return Principal(subject=f"{role.value}-{uuid.uuid4().hex[:8]}", role=role, **binding)


def event_data(**overrides: Any) -> EventCreate:
    start = datetime.now(UTC) + timedelta(days=30)
    body: dict[str, Any] = {
        "title": f"Open Innovations {uuid.uuid4().hex[:6]}",
        "type": "forum",
        "starts_at": start,
        "ends_at": start + timedelta(hours=8),
        "capacity": 10,
        "timezone": "Europe/Moscow",
        "city": "Moscow",
        "country": "RU",
    }
    body.update(overrides)
    return EventCreate.model_validate(body)


def person(**overrides: Any) -> RegistrationCreate:
    tag = uuid.uuid4().hex[:8]
    body = {
        "full_name": f"Anna Ivanova {tag}",
        "email": f"anna.{tag}@example.org",
        "organisation": "Technopolis Himgrad",
    }
    body.update(overrides)
    return RegistrationCreate.model_validate(body)


@pytest.fixture
def operator() -> Principal:
    return principal()


@pytest.fixture
def make_event(db_session, operator) -> Callable[..., Awaitable[Event]]:
    """`await make_event(capacity=2)`: a published event (`publish=False`: a draft)."""

    async def make(*, publish: bool = True, by: Principal | None = None, **overrides: Any) -> Event:
        by = by or operator
        event = await events.create_event(
            session=db_session, principal=by, data=event_data(**overrides)
        )
        if publish:
            event = await events.publish_event(session=db_session, principal=by, event_id=event.id)
        return event

    return make


@pytest.fixture
def register(db_session) -> Callable[..., Awaitable[NewRegistration]]:
    """`await register(event)`: a new registration of a new person."""

    async def make(
        event: Event, *, by: Principal | None = None, **overrides: Any
    ) -> NewRegistration:
        return await registrations.register(
            session=db_session, principal=by, event_id=event.id, data=person(**overrides)
        )

    return make


@pytest.fixture
def helpers():
    """Plain builders (tests import nothing from each other or from conftest)."""

    class Helpers:
        principal = staticmethod(principal)
        event_data = staticmethod(event_data)
        person = staticmethod(person)

    return Helpers
