"""The events service as a real process, started once for the whole test session (the
contract tier), and the service the unit tier's `db_session` migrates (`unit/`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

# The services below run until the last test of this directory (unit/ included).
HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def service_name() -> str:
    return "events"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def events_service(start_service):
    return await start_service(
        "events",
        kept_for=HERE,
        PUBLIC_BASE_URL="https://innopark.example",
        LIFECYCLE_SWEEP_INTERVAL_SECONDS="0.3",
        CALENDAR_ORGANISER_EMAIL="events@innopark.example",
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def client(events_service):
    async with events_service.client() as http:
        yield http


def event_body(**overrides: Any) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(days=30)
    body = {
        "title": f"St Petersburg International Innovation Forum {uuid.uuid4().hex[:6]}",
        "type": "forum",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=8)).isoformat(),
        "capacity": 10,
        "timezone": "Europe/Moscow",
        "city": "St Petersburg",
        "country": "RU",
        "languages": ["ru", "en"],
        "organiser_name": "Association of Technological Parks",
    }
    body.update(overrides)
    return body


async def published_event(client, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    created = await client.post("/api/v1/events", json=event_body(**overrides), headers=headers)
    assert created.status_code == 201, created.text
    published = await client.post(f"/api/v1/events/{created.json()['id']}/publish", headers=headers)
    assert published.status_code == 200, published.text
    return published.json()


def person(**overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    body = {
        "full_name": f"Anna Ivanova {tag}",
        "email": f"anna.{tag}@example.org",
        "organisation": "Technopolis Himgrad",
    }
    body.update(overrides)
    return body


class Helpers:
    """Builders the tests share (tests import nothing from each other: pytest runs with
    --import-mode=importlib, so they come as a fixture)."""

    event_body = staticmethod(event_body)
    published_event = staticmethod(published_event)
    person = staticmethod(person)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def h():
    return Helpers
