"""Events the registry publishes: parks, residents (clusters, agreements and KPI reports are
added by the registry as it grows). Park snapshots are full, so a consumer can rebuild its
read model from the latest event of each park alone."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

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
