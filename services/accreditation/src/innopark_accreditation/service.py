"""Accreditation domain operations. They flush, never commit: the caller owns the transaction."""

from __future__ import annotations

from uuid import UUID

from innopark_shared.errors import NotFound
from innopark_shared.readmodels.parks import get_known_park
from sqlalchemy.ext.asyncio import AsyncSession

from .models import known_parks
from .schemas import AccreditationStatus, ParkAccreditationRead


async def get_park_accreditation(*, session: AsyncSession, park_id: UUID) -> ParkAccreditationRead:
    park = await get_known_park(session, known_parks, park_id)
    if park is None or park.removed:
        raise NotFound(f"Park {park_id} is not known to accreditation")
    return ParkAccreditationRead(
        park_id=park.park_id, park_name=park.name, status=AccreditationStatus.NOT_ACCREDITED
    )
