"""Change-feed entries: the kind, the id, and the current state (or the removal)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from ..cooperation.schemas import AgreementRead, ClusterRead
from ..kpi.schemas import KpiReportRead
from ..parks.schemas import ParkRead
from ..residents.schemas import ResidentRead

ChangeKind = Literal["park", "resident", "cluster", "agreement", "kpi_report"]


class Change(BaseModel):
    """One entry: exactly one of the state fields, named after `kind`, is set, unless
    the entry is a removal (`removed`)."""

    kind: ChangeKind
    id: UUID
    changed_at: datetime = Field(description="When the row was last written")
    removed: bool = False
    removed_at: datetime | None = None
    park: ParkRead | None = None
    resident: ResidentRead | None = None
    cluster: ClusterRead | None = None
    agreement: AgreementRead | None = None
    kpi_report: KpiReportRead | None = None
