"""KPI report request and response models (`KpiReportCreate / KpiReportRead`) and the
association-wide figures (`StatsRead`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from innopark_shared.schemas import Currency, Input, Money
from pydantic import BaseModel, Field

# Registry-specific measures (no shared equivalent): head counts and an area in m².
Count = Annotated[int, Field(ge=0, le=10_000_000)]
AreaM2 = Annotated[Decimal, Field(ge=0, le=Decimal("1e11"), max_digits=14, decimal_places=2)]


class KpiReportCreate(Input):
    """A park's figures for a quarter, or for a year (no quarter). Refiling a period
    replaces its figures."""

    year: int = Field(ge=1990, le=2100)
    quarter: int | None = Field(default=None, ge=1, le=4)
    residents: Count
    jobs: Count
    resident_revenue: Money
    taxes_paid: Money
    investments_attracted: Money
    area_occupied: AreaM2
    currency: Currency = "RUB"


class KpiReportRead(BaseModel):
    id: UUID
    park_id: UUID
    year: int
    quarter: int | None
    residents: int
    jobs: int
    resident_revenue: Decimal
    taxes_paid: Decimal
    investments_attracted: Decimal
    area_occupied: Decimal
    currency: str
    version: int
    created_at: datetime
    updated_at: datetime


class StatsGroupBy(StrEnum):
    REGION = "region"
    KIND = "kind"
    YEAR = "year"


class StatsTotals(BaseModel):
    parks_reporting: int
    residents: int
    jobs: int
    area_occupied: Decimal
    resident_revenue: Decimal
    taxes_paid: Decimal
    investments_attracted: Decimal


class StatsGroup(StatsTotals):
    key: str


class StatsRead(BaseModel):
    """Association-wide figures computed from the parks' KPI reports.

    Stocks (residents, jobs, area occupied) come from each park's latest report in the
    period; flows (revenue, taxes, investments) are summed over the period, an annual
    report standing in for that year's quarterly ones."""

    year_from: int | None
    year_to: int | None
    quarter: int | None
    region: str | None
    kind: str | None
    totals: StatsTotals
    groups: list[StatsGroup] | None = None
