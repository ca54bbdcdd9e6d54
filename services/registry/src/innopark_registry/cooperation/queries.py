"""Listing clusters (by name) and agreements (newest first)."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Agreement, Cluster


async def list_clusters(
    *,
    session: AsyncSession,
    region: str | None,
    park_id: UUID | None,
    limit: int,
    cursor: str | None,
) -> Slice[Cluster]:
    stmt = sa.select(Cluster)
    if region:
        stmt = stmt.where(Cluster.region == region)
    if park_id:
        # Coordinated by the park, or with the park among the members.
        stmt = stmt.where(
            sa.or_(
                Cluster.coordinator_park_id == park_id,
                Cluster.members.op("@>")(
                    sa.cast([{"park_id": str(park_id)}], Cluster.members.type)
                ),
            )
        )
    return await paginate(
        session, stmt, order_by=[Cluster.name, Cluster.id], cursor=cursor, limit=limit
    )


async def list_agreements(
    *, session: AsyncSession, park_id: UUID | None, limit: int, cursor: str | None
) -> Slice[Agreement]:
    stmt = sa.select(Agreement)
    if park_id:
        stmt = stmt.where(Agreement.park_ids.op("@>")(sa.cast([park_id], Agreement.park_ids.type)))
    return await paginate(
        session,
        stmt,
        order_by=[Agreement.created_at, Agreement.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )
