"""Filing KPI reports: one report per park and period (a quarter, or a whole year);
refiling a period replaces its figures. Flushes, never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.contracts.registry import KpiReportFiledV1
from innopark_shared.errors import Conflict
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import KpiReport, outbox
from ..parks.service import authorize_park_change, get_park
from .schemas import KpiReportCreate


@dataclass(frozen=True, slots=True)
class FiledReport:
    report: KpiReport
    created: bool  # False: the period had a report, now replaced


def report_filed(report: KpiReport) -> KpiReportFiledV1:
    return KpiReportFiledV1(
        report_id=report.id,
        park_id=report.park_id,
        year=report.year,
        quarter=report.quarter,
        residents=report.residents,
        jobs=report.jobs,
        resident_revenue=float(report.resident_revenue),
        taxes_paid=float(report.taxes_paid),
        investments_attracted=float(report.investments_attracted),
        area_occupied=float(report.area_occupied),
        currency=report.currency,
        occurred_at=datetime.now(UTC),
    )


async def file_kpi_report(
    *, session: AsyncSession, principal: Principal, park_id: UUID, data: KpiReportCreate
) -> FiledReport:
    """File (or refile) a park's report for a period (the association or the park's
    manager)."""
    park = await get_park(session=session, park_id=park_id, lock="reference")
    authorize_park_change(principal, park.id)
    period = sa.func.coalesce(KpiReport.quarter, 0) == (data.quarter or 0)
    report = await session.scalar(
        sa.select(KpiReport)
        .where(KpiReport.park_id == park.id, KpiReport.year == data.year, period)
        .with_for_update()
    )
    created = report is None
    if report is None:
        report = KpiReport(park_id=park.id, **data.model_dump(mode="python"))
        session.add(report)
    else:
        for field, value in data.model_dump(mode="python").items():
            setattr(report, field, value)
    try:
        await session.flush()
    except IntegrityError as exc:  # the unique period index: a first filing at the same time
        raise Conflict("A report for this period was filed at the same time; retry") from exc
    await outbox.add(session, report_filed(report))
    return FiledReport(report, created)
