"""Reading residents: the filtered, paged list and the full stream behind the CSV export."""

from __future__ import annotations

from collections.abc import AsyncIterator

import sqlalchemy as sa
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Resident
from ..parks.search import matches, plan_search_with_its_words
from ..parks.service import get_park
from .schemas import ResidentFilters


def resident_conditions(filters: ResidentFilters) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if filters.park_id:
        where.append(Resident.park_id == filters.park_id)
    if filters.q:
        where.append(matches(Resident.search_vector, filters.q))
    if filters.technology:
        where.append(
            Resident.technologies.op("&&")(sa.cast(filters.technology, Resident.technologies.type))
        )
    if filters.stage:
        where.append(Resident.stage == filters.stage.value)
    if filters.status:
        where.append(Resident.status == filters.status.value)
    return where


async def list_residents(
    *, session: AsyncSession, filters: ResidentFilters, limit: int, cursor: str | None
) -> Slice[Resident]:
    """Residents in name order (a park's, or across parks)."""
    if filters.park_id:
        await get_park(session=session, park_id=filters.park_id)
    if filters.q:
        await plan_search_with_its_words(session)
    return await paginate(
        session,
        sa.select(Resident).where(*resident_conditions(filters)),
        order_by=[Resident.name, Resident.id],
        cursor=cursor,
        limit=limit,
    )


async def stream_residents(
    *, session: AsyncSession, filters: ResidentFilters, chunk: int = 500
) -> AsyncIterator[Resident]:
    stmt = (
        sa.select(Resident)
        .where(*resident_conditions(filters))
        .order_by(Resident.name, Resident.id)
        .execution_options(yield_per=chunk)
    )
    async for resident in await session.stream_scalars(stmt):
        yield resident
