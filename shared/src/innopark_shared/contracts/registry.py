"""Events the registry publishes: parks (and, later, residents, clusters, agreements)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from .base import IntegrationEvent

PARKS_TOPIC = "innopark.registry.parks"


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
