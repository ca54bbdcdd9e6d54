"""Registry request and response models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class ParkKind(StrEnum):
    TECHNOPARK = "technopark"
    TECHNOPOLIS = "technopolis"
    BUSINESS_INCUBATOR = "business_incubator"
    INDUSTRIAL_PARK = "industrial_park"
    CLUSTER_DEVELOPMENT_CENTRE = "cluster_development_centre"
    ENGINEERING_CENTRE = "engineering_centre"
    OTHER = "other"


class ParkBase(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    kind: ParkKind
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code")
    region: str = Field(min_length=1, max_length=200)
    specializations: list[str] = Field(default_factory=list, max_length=50)


class ParkCreate(ParkBase):
    model_config = ConfigDict(extra="forbid")


class ParkRead(ParkBase):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    version: int
    created_at: datetime
    updated_at: datetime
