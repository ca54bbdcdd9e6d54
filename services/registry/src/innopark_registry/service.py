"""Registry domain operations. They flush, never commit: the caller owns the transaction."""

from __future__ import annotations

from uuid import UUID

from innopark_shared.contracts import ParkCreatedV1
from innopark_shared.errors import NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from .events import publish
from .models import Park
from .schemas import ParkCreate


async def create_park(*, session: AsyncSession, data: ParkCreate) -> Park:
    park = Park(**data.model_dump(mode="json"))
    session.add(park)
    await session.flush()
    await session.refresh(park)
    await publish(
        session,
        ParkCreatedV1(
            park_id=park.id,
            name=park.name,
            kind=park.kind,
            country=park.country,
            region=park.region,
            specializations=park.specializations,
            created_at=park.created_at,
        ),
    )
    return park


async def get_park(*, session: AsyncSession, park_id: UUID) -> Park:
    park = await session.get(Park, park_id)
    if park is None:
        raise NotFound(f"Park {park_id} not found")
    return park
