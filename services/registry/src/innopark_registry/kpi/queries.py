"""Reading KPI reports (a park's, latest first) and the association-wide figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import KpiReport
from ..parks.service import authorize_park_change, get_park
from .schemas import StatsGroupBy


async def list_kpi_reports(
    *, session: AsyncSession, principal: Principal, park_id: UUID, limit: int, cursor: str | None
) -> Slice[KpiReport]:
    """A park's reports, latest period first (the association or the park's manager)."""
    park = await get_park(session=session, park_id=park_id)
    authorize_park_change(principal, park.id)
    period = sa.func.coalesce(KpiReport.quarter, 5)  # an annual report sorts after Q4
    return await paginate(
        session,
        sa.select(KpiReport).where(KpiReport.park_id == park.id),
        order_by=[KpiReport.year, period, KpiReport.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


STATS_SQL = """
WITH r AS (
    SELECT k.*, {group} AS g
    FROM kpi_reports k JOIN parks p ON p.id = k.park_id
    WHERE p.removed_at IS NULL
      AND (CAST(:year_from AS int) IS NULL OR k.year >= :year_from)
      AND (CAST(:year_to AS int) IS NULL OR k.year <= :year_to)
      AND (CAST(:quarter AS int) IS NULL OR k.quarter = :quarter)
      AND (CAST(:region AS text) IS NULL OR p.region = :region)
      AND (CAST(:kind AS text) IS NULL OR p.kind = :kind)
      -- an annual report stands in for the same year's quarterly ones
      AND NOT (k.quarter IS NOT NULL AND CAST(:quarter AS int) IS NULL AND EXISTS (
          SELECT 1 FROM kpi_reports a
          WHERE a.park_id = k.park_id AND a.year = k.year AND a.quarter IS NULL))
),
latest AS (
    SELECT DISTINCT ON (park_id, g) *
    FROM r ORDER BY park_id, g, year DESC, coalesce(quarter, 5) DESC
),
stocks AS (
    SELECT g, count(*) AS parks_reporting, coalesce(sum(residents), 0) AS residents,
           coalesce(sum(jobs), 0) AS jobs, coalesce(sum(area_occupied), 0) AS area_occupied
    FROM latest GROUP BY g
),
flows AS (
    SELECT g, coalesce(sum(resident_revenue), 0) AS resident_revenue,
           coalesce(sum(taxes_paid), 0) AS taxes_paid,
           coalesce(sum(investments_attracted), 0) AS investments_attracted
    FROM r GROUP BY g
)
SELECT s.g AS key, s.parks_reporting, s.residents, s.jobs, s.area_occupied,
       f.resident_revenue, f.taxes_paid, f.investments_attracted
FROM stocks s JOIN flows f USING (g) ORDER BY s.g
"""

_GROUP_EXPR = {
    None: "''",
    StatsGroupBy.REGION: "p.region",
    StatsGroupBy.KIND: "p.kind",
    StatsGroupBy.YEAR: "k.year::text",
}


@dataclass(frozen=True, slots=True)
class Figures:
    """Stocks from each park's latest report in the period; flows summed over it."""

    parks_reporting: int = 0
    residents: int = 0
    jobs: int = 0
    area_occupied: Decimal = Decimal(0)
    resident_revenue: Decimal = Decimal(0)
    taxes_paid: Decimal = Decimal(0)
    investments_attracted: Decimal = Decimal(0)
    key: str = ""  # the group (a region, a kind, a year); empty for the totals


@dataclass(frozen=True, slots=True)
class Stats:
    year_from: int | None
    year_to: int | None
    quarter: int | None
    region: str | None
    kind: str | None
    totals: Figures
    groups: list[Figures] | None = field(default=None)


async def stats(
    *,
    session: AsyncSession,
    year_from: int | None,
    year_to: int | None,
    quarter: int | None,
    region: str | None,
    kind: str | None,
    group_by: StatsGroupBy | None,
) -> Stats:
    params: dict[str, Any] = {
        "year_from": year_from,
        "year_to": year_to,
        "quarter": quarter,
        "region": region,
        "kind": kind,
    }

    async def run(group: StatsGroupBy | None) -> list[Figures]:
        sql = sa.text(STATS_SQL.format(group=_GROUP_EXPR[group]))
        rows = (await session.execute(sql, params)).all()
        return [Figures(**row._mapping) for row in rows]

    totals = await run(None)
    return Stats(
        **params,
        totals=totals[0] if totals else Figures(),
        groups=await run(group_by) if group_by else None,
    )
