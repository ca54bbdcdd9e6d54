"""KPI reports and the association-wide figures as the API shows them."""

from __future__ import annotations

from dataclasses import asdict

from ..models import KpiReport
from .queries import Figures, Stats
from .schemas import KpiReportRead, StatsGroup, StatsRead, StatsTotals


def present_kpi_report(report: KpiReport) -> KpiReportRead:
    return KpiReportRead.model_validate(report, from_attributes=True)


def _totals(figures: Figures) -> StatsTotals:
    return StatsTotals.model_validate({k: v for k, v in asdict(figures).items() if k != "key"})


def present_stats(stats: Stats) -> StatsRead:
    return StatsRead(
        year_from=stats.year_from,
        year_to=stats.year_to,
        quarter=stats.quarter,
        region=stats.region,
        kind=stats.kind,
        totals=_totals(stats.totals),
        groups=None
        if stats.groups is None
        else [StatsGroup.model_validate(asdict(g)) for g in stats.groups],
    )
