"""Events the registry publishes: parks, residents (clusters, agreements and KPI reports are
added by the registry as it grows). Park snapshots are full, so a consumer can rebuild its
read model from the latest event of each park alone."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from .base import IntegrationEvent

PARKS_TOPIC = "innopark.registry.parks"
RESIDENTS_TOPIC = "innopark.registry.residents"


class ParkCreatedV1(IntegrationEvent):
    event_type = "org.innopark.registry.park.created.v1"
    topic = PARKS_TOPIC
    key_field = "park_id"

    park_id: UUID
    name: str
    kind: str
    country: str
    region: str
    specializations: list[str] = []
    created_at: datetime
    # Additive fields (optional so older producers stay valid).
    name_en: str | None = None
    city: str | None = None
    parent_id: UUID | None = None
    description: str | None = None
    membership_status: str | None = None
    # The park's public contact e-mail (accreditation writes to the park there).
    email: str | None = None


class ParkUpdatedV1(ParkCreatedV1):
    """The park's full state after a change."""

    event_type = "org.innopark.registry.park.updated.v1"
    updated_at: datetime | None = None


class ParkRemovedV1(IntegrationEvent):
    event_type = "org.innopark.registry.park.removed.v1"
    topic = PARKS_TOPIC
    key_field = "park_id"

    park_id: UUID
    removed_at: datetime


class ResidentAdmittedV1(IntegrationEvent):
    event_type = "org.innopark.registry.resident.admitted.v1"
    topic = RESIDENTS_TOPIC
    key_field = "resident_id"

    resident_id: UUID
    park_id: UUID
    name: str
    legal_id: str | None = None  # canonical "<country>:<registration number>"
    technologies: list[str] = []
    sectors: list[str] = []
    stage: str | None = None
    description: str | None = None
    contact_email: str | None = None
    admitted_on: date | None = None


class ResidentUpdatedV1(ResidentAdmittedV1):
    """The resident's full state after a change."""

    event_type = "org.innopark.registry.resident.updated.v1"


class ResidentLeftV1(IntegrationEvent):
    event_type = "org.innopark.registry.resident.left.v1"
    topic = RESIDENTS_TOPIC
    key_field = "resident_id"

    resident_id: UUID
    park_id: UUID
    left_on: date


# -- clusters, cooperation agreements, KPI reports (full state in every event) ----------

CLUSTERS_TOPIC = "innopark.registry.clusters"
AGREEMENTS_TOPIC = "innopark.registry.agreements"
KPI_REPORTS_TOPIC = "innopark.registry.kpi-reports"


class ClusterMemberV1(BaseModel):
    """A member organisation of a cluster (a park, a resident, or an outside body)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    park_id: UUID | None = None
    resident_id: UUID | None = None


class ClusterCreatedV1(IntegrationEvent):
    event_type = "org.innopark.registry.cluster.created.v1"
    topic = CLUSTERS_TOPIC
    key_field = "cluster_id"

    cluster_id: UUID
    name: str
    name_en: str | None = None
    country: str
    region: str
    description: str | None = None
    coordinator_park_id: UUID | None = None
    specializations: list[str] = []
    members: list[ClusterMemberV1] = []
    occurred_at: datetime


class ClusterUpdatedV1(ClusterCreatedV1):
    event_type = "org.innopark.registry.cluster.updated.v1"


class AgreementPartyV1(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    country: str | None = None
    park_id: UUID | None = None


class AgreementRecordedV1(IntegrationEvent):
    event_type = "org.innopark.registry.agreement.recorded.v1"
    topic = AGREEMENTS_TOPIC
    key_field = "agreement_id"

    agreement_id: UUID
    title: str
    parties: list[AgreementPartyV1] = []
    signed_on: date | None = None
    signed_at: str | None = None  # where it was signed (a forum, a city)
    scope: str | None = None
    occurred_at: datetime


class AgreementUpdatedV1(AgreementRecordedV1):
    event_type = "org.innopark.registry.agreement.updated.v1"


class KpiReportFiledV1(IntegrationEvent):
    """A park's periodic KPI report (a refiling of the same period replaces the figures)."""

    event_type = "org.innopark.registry.kpi_report.filed.v1"
    topic = KPI_REPORTS_TOPIC
    key_field = "park_id"

    report_id: UUID
    park_id: UUID
    year: int
    quarter: int | None = None  # None: an annual report
    residents: int
    jobs: int
    resident_revenue: float
    taxes_paid: float
    investments_attracted: float
    area_occupied: float
    currency: str = "RUB"
    occurred_at: datetime
