"""KPI routes: a park's reports under `/api/v1/parks/{id}/kpi-reports`, and `/api/v1/stats`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from innopark_shared.auth import CurrentPrincipal
from innopark_shared.db import SessionDep
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..parks.schemas import ParkKind
from ..routing import tag
from . import queries, service
from .presenters import present_kpi_report, present_stats
from .schemas import KpiReportCreate, KpiReportRead, StatsGroupBy, StatsRead

router = APIRouter(prefix="/api/v1", tags=["kpi"])


@router.post(
    "/parks/{park_id}/kpi-reports",
    response_model=KpiReportRead,
    status_code=201,
    summary="File a park's KPI report for a quarter or year "
    "(operator, or the park's manager); refiling a period replaces it (200)",
)
async def file_kpi_report(
    park_id: UUID,
    data: KpiReportCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
) -> KpiReportRead:
    filed = await service.file_kpi_report(
        session=session, principal=principal, park_id=park_id, data=data
    )
    response.status_code = 201 if filed.created else 200
    response.headers["Location"] = f"/api/v1/parks/{park_id}/kpi-reports"
    tag(response, filed.report)
    return present_kpi_report(filed.report)


@router.get(
    "/parks/{park_id}/kpi-reports",
    response_model=Page[KpiReportRead],
    summary="A park's KPI reports, latest first (operator, or the park's manager)",
)
async def list_kpi_reports(
    park_id: UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[KpiReportRead]:
    reports = await queries.list_kpi_reports(
        session=session, principal=principal, park_id=park_id, limit=limit, cursor=cursor
    )
    return reports.present(present_kpi_report)


@router.get(
    "/stats",
    response_model=StatsRead,
    summary="Association-wide figures from the parks' KPI reports (public)",
)
async def get_stats(
    session: SessionDep,
    year_from: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    year_to: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    year: Annotated[
        int | None, Query(ge=1990, le=2100, description="Shorthand for one year")
    ] = None,
    quarter: Annotated[int | None, Query(ge=1, le=4)] = None,
    region: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    kind: ParkKind | None = None,
    group_by: StatsGroupBy | None = None,
) -> StatsRead:
    if year is not None:
        year_from = year_to = year
    figures = await queries.stats(
        session=session,
        year_from=year_from,
        year_to=year_to,
        quarter=quarter,
        region=region,
        kind=kind.value if kind else None,
        group_by=group_by,
    )
    return present_stats(figures)
