"""Reading parks: the filtered, sorted, paged list, the full stream behind the exports,
and the change feed that lets other systems mirror the registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.db import Database, RowView
from innopark_shared.errors import NotFound, Unprocessable
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Park
from .accreditation import accredited_clause
from .schemas import ParkFilters, ParkSort
from .search import matches, plan_search_with_its_words, relevance

# The live park as the API shows it (every column but the search vector), built once:
# building and hashing the statement cost as much as running it.
_LIVE_PARK = sa.select(*[c for c in Park.__table__.c if c.name != "search_vector"]).where(
    Park.id == sa.bindparam("park_id"), Park.removed_at.is_(None)
)


async def read_live_park(database: Database, park_id: UUID) -> RowView:
    """The live park's row (404 otherwise), read outside any transaction: the public
    read's hot path, one statement and no session."""
    row = await database.read_row(_LIVE_PARK, {"park_id": park_id})
    if row is None:
        raise NotFound(f"Park {park_id} not found")
    return row


def park_conditions(filters: ParkFilters) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [Park.removed_at.is_(None)]
    if filters.q:
        where.append(matches(Park.search_vector, filters.q))
    if filters.kind:
        where.append(Park.kind.in_([k.value for k in filters.kind]))
    if filters.region:
        where.append(Park.region == filters.region)
    if filters.country:
        where.append(Park.country == filters.country)
    if filters.city:
        where.append(Park.city == filters.city)
    if filters.specialization:
        # Any of the asked specialisations (GIN-indexed overlap).
        where.append(
            Park.specializations.op("&&")(
                sa.cast(filters.specialization, Park.specializations.type)
            )
        )
    if filters.accredited is not None:
        clause = accredited_clause()
        where.append(clause if filters.accredited else sa.not_(sa.func.coalesce(clause, False)))
    if filters.membership_status:
        where.append(Park.membership_status == filters.membership_status.value)
    if filters.ownership:
        where.append(Park.ownership == filters.ownership.value)
    if filters.parent_id:
        where.append(Park.parent_id == filters.parent_id)
    return where


def _sort_of(filters: ParkFilters, sort: ParkSort | None) -> ParkSort:
    if sort is None:
        return ParkSort.RELEVANCE if filters.q else ParkSort.NAME
    if sort is ParkSort.RELEVANCE and not filters.q:
        raise Unprocessable.for_field(
            "sort",
            "relevance needs q",
            location="query",
            detail="Sorting by relevance needs a search query",
        )
    return sort


async def list_parks(
    *,
    session: AsyncSession,
    filters: ParkFilters,
    sort: ParkSort | None,
    limit: int,
    cursor: str | None,
) -> Slice[Park]:
    sort = _sort_of(filters, sort)
    stmt = sa.select(Park).where(*park_conditions(filters))
    if filters.q:
        await plan_search_with_its_words(session)
    if sort is ParkSort.RELEVANCE:
        assert filters.q  # _sort_of refuses relevance without a query
        # Best match first; ties in id order.
        order_by = [relevance(Park.search_vector, filters.q), Park.id]
        descending: bool | list[bool] = [True, False]
    else:
        column = Park.name if sort in (ParkSort.NAME, ParkSort.NAME_DESC) else Park.created_at
        order_by = [column, Park.id]
        descending = sort in (ParkSort.NAME_DESC, ParkSort.CREATED_DESC)
    return await paginate(
        session, stmt, order_by=order_by, cursor=cursor, limit=limit, descending=descending
    )


async def stream_parks(
    *, session: AsyncSession, filters: ParkFilters, chunk: int = 500
) -> AsyncIterator[Park]:
    """Every matching park in name order, fetched in chunks by a server-side cursor."""
    stmt = (
        sa.select(Park)
        .where(*park_conditions(filters))
        .order_by(Park.name, Park.id)
        .execution_options(yield_per=chunk)
    )
    result = await session.stream_scalars(stmt)
    async for park in result:
        yield park
