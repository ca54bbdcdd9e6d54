"""Helpers of the unit tier: principals, and parks made through the service itself."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from innopark_registry.models import Park
from innopark_registry.parks import service as parks
from innopark_registry.parks.schemas import ParkCreate
from innopark_shared.auth import Principal, Role

OPERATOR = Principal(subject="operator", role=Role.OPERATOR)


def manager_of(park_id: uuid.UUID) -> Principal:
    return Principal(subject=f"manager-{park_id}", role=Role.PARK_MANAGER, park_id=park_id)


def company(resident_id: uuid.UUID) -> Principal:
    return Principal(subject=f"company-{resident_id}", role=Role.RESIDENT, resident_id=resident_id)


def region() -> str:
    """A region of the test's own, so figures and filters see only the test's parks."""
    return f"Region {uuid.uuid4().hex[:8]}"


def park_create(**overrides: Any) -> ParkCreate:
    body: dict[str, Any] = {
        "name": "Technopark " + uuid.uuid4().hex[:6],
        "kind": "technopark",
        "country": "RU",
        "region": region(),
        "specializations": ["it"],
    }
    body.update(overrides)
    return ParkCreate.model_validate(body)


@pytest.fixture
def new_park(db_session):
    """`await new_park(**fields)`: a park created through `create_park`."""

    async def make(**overrides: Any) -> Park:
        return await parks.create_park(session=db_session, data=park_create(**overrides))

    return make
