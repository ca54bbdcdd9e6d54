"""Park request and response models (`ParkCreate / ParkUpdate / ParkRead`), the park list's
filters and sorts, autocomplete suggestions and change-feed entries."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from innopark_shared.schemas import Country, Email, Input, Patch, Tag, Tags
from pydantic import BaseModel, Field, field_validator

from ..routing import QueryFilters

# Registry-specific measures (no shared equivalent).
Area = Annotated[float, Field(ge=0, le=1e9, description="m²")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


class ParkKind(StrEnum):
    TECHNOPARK = "technopark"
    TECHNOPOLIS = "technopolis"
    BUSINESS_INCUBATOR = "business_incubator"
    INDUSTRIAL_PARK = "industrial_park"
    CLUSTER_DEVELOPMENT_CENTRE = "cluster_development_centre"
    ENGINEERING_CENTRE = "engineering_centre"
    OTHER = "other"


class Ownership(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    PUBLIC_PRIVATE = "public_private"


class MembershipStatus(StrEnum):
    NONE = "none"
    CANDIDATE = "candidate"
    MEMBER = "member"
    SUSPENDED = "suspended"
    FORMER = "former"


class ParkSort(StrEnum):
    NAME = "name"
    NAME_DESC = "-name"
    CREATED = "created_at"
    CREATED_DESC = "-created_at"
    RELEVANCE = "relevance"


class _ParkFields(Input):
    name_en: str | None = Field(default=None, max_length=300)
    legal_name: str | None = Field(default=None, max_length=500)
    parent_id: UUID | None = None
    city: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    founded_year: int | None = Field(default=None, ge=1800, le=2100)
    ownership: Ownership | None = None
    total_area: Area | None = None
    occupied_area: Area | None = None
    website: str | None = Field(default=None, max_length=500)
    email: Email | None = None
    phone: str | None = Field(default=None, max_length=50)
    description: str | None = Field(default=None, max_length=20_000)
    member_since: date | None = None


class ParkCreate(_ParkFields):
    """Coordinates go in pairs and the occupied area fits in the total: the service checks
    both (naming the field), for a new park and for a change alike."""

    name: str = Field(min_length=1, max_length=300)
    kind: ParkKind
    country: Country
    region: str = Field(min_length=1, max_length=200)
    specializations: Tags = Field(default_factory=list)
    membership_status: MembershipStatus = MembershipStatus.NONE


class ParkUpdate(Patch, _ParkFields):
    """Only the fields sent change (`null` clears an optional field)."""

    not_null: ClassVar[frozenset[str]] = frozenset(
        {"name", "kind", "country", "region", "specializations", "membership_status"}
    )

    name: str | None = Field(default=None, min_length=1, max_length=300)
    kind: ParkKind | None = None
    country: Country | None = None
    region: str | None = Field(default=None, min_length=1, max_length=200)
    specializations: Tags | None = None
    membership_status: MembershipStatus | None = None


class Accreditation(BaseModel):
    status: str  # not_accredited | active | suspended | revoked | expired
    certificate_number: str | None = None
    level: str | None = None
    issued_on: date | None = None
    valid_until: date | None = None


class ParkRead(BaseModel):
    id: UUID
    name: str
    name_en: str | None
    legal_name: str | None
    kind: str
    parent_id: UUID | None
    country: str
    region: str
    city: str | None
    address: str | None
    latitude: float | None
    longitude: float | None
    founded_year: int | None
    ownership: str | None
    specializations: list[str]
    total_area: float | None
    occupied_area: float | None
    website: str | None
    email: str | None
    phone: str | None
    description: str | None
    membership_status: str
    member_since: date | None
    accreditation: Accreditation
    version: int
    created_at: datetime
    updated_at: datetime


class ParkSuggestion(BaseModel):
    id: UUID
    name: str
    name_en: str | None
    kind: str
    region: str


class ParkSuggestions(BaseModel):
    items: list[ParkSuggestion]


class ParkChange(BaseModel):
    """One entry of the change feed: the park's current state, or its removal."""

    change_seq: int
    park_id: UUID
    removed: bool
    removed_at: datetime | None = None
    park: ParkRead | None = None


class ParkFilters(QueryFilters):
    q: str | None = Field(default=None, min_length=1, max_length=200)
    kind: list[ParkKind] | None = None
    region: str | None = Field(default=None, min_length=1, max_length=200)
    country: Country | None = None
    city: str | None = Field(default=None, min_length=1, max_length=200)
    specialization: list[Tag] | None = None
    accredited: bool | None = None
    membership_status: MembershipStatus | None = None
    ownership: Ownership | None = None
    parent_id: UUID | None = None

    @field_validator("q")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None
