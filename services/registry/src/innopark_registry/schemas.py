"""Registry request and response models (`<Thing>Create / Update / Read / Page`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code")]
Tag = Annotated[str, Field(min_length=1, max_length=100)]
Tags = Annotated[list[Tag], Field(max_length=50)]
Area = Annotated[float, Field(ge=0, le=1e9, description="m²")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e17"), max_digits=20, decimal_places=2)]


class RejectsNul(BaseModel):
    """PostgreSQL text cannot hold NUL characters: refuse them here, naming the field."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in items):
            raise ValueError("must not contain NUL characters")
        return value


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


class ResidentStage(StrEnum):
    STARTUP = "startup"
    SPIN_OFF = "spin_off"
    SME = "sme"
    LARGE = "large"


class ParkSort(StrEnum):
    NAME = "name"
    NAME_DESC = "-name"
    CREATED = "created_at"
    CREATED_DESC = "-created_at"
    RELEVANCE = "relevance"


# -- parks ------------------------------------------------------------------------------


class _ParkFields(RejectsNul):
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
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=50)
    description: str | None = Field(default=None, max_length=20_000)
    member_since: date | None = None


def _check_coordinates_and_areas(data: Any) -> Any:
    lat, lon = getattr(data, "latitude", None), getattr(data, "longitude", None)
    if (lat is None) != (lon is None):
        raise ValueError("latitude and longitude go together")
    total, occupied = getattr(data, "total_area", None), getattr(data, "occupied_area", None)
    if total is not None and occupied is not None and occupied > total:
        raise ValueError("occupied_area cannot exceed total_area")
    return data


class ParkCreate(_ParkFields):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    kind: ParkKind
    country: Country
    region: str = Field(min_length=1, max_length=200)
    specializations: Tags = Field(default_factory=list)
    membership_status: MembershipStatus = MembershipStatus.NONE

    @model_validator(mode="after")
    def _consistent(self) -> ParkCreate:
        return _check_coordinates_and_areas(self)


class ParkUpdate(_ParkFields):
    """Only the fields sent change (`null` clears an optional field)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    kind: ParkKind | None = None
    country: Country | None = None
    region: str | None = Field(default=None, min_length=1, max_length=200)
    specializations: Tags | None = None
    membership_status: MembershipStatus | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> ParkUpdate:
        for field in ("name", "kind", "country", "region", "specializations", "membership_status"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class Accreditation(BaseModel):
    status: str  # not_accredited | active | suspended | revoked | expired
    certificate_number: str | None = None
    level: str | None = None
    issued_on: date | None = None
    valid_until: date | None = None


class ParkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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

    @model_validator(mode="before")
    @classmethod
    def _accreditation(cls, data: Any) -> Any:
        if isinstance(data, dict) or hasattr(data, "accreditation"):
            return data
        return {
            **{name: getattr(data, name) for name in cls.model_fields if name != "accreditation"},
            "accreditation": accreditation_of(data),
        }


def accreditation_of(park: Any) -> Accreditation:
    if park.accreditation_status is None:
        return Accreditation(status="not_accredited")
    status = park.accreditation_status
    if (
        status == "active"
        and park.accreditation_valid_until
        and park.accreditation_valid_until < date.today()
    ):
        status = "expired"  # the expiry event may still be on its way
    return Accreditation(
        status=status,
        certificate_number=park.accreditation_certificate_number,
        level=park.accreditation_level,
        issued_on=park.accreditation_issued_on,
        valid_until=park.accreditation_valid_until,
    )


class ParkPage(BaseModel):
    items: list[ParkRead]
    next_cursor: str | None


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


class ParkChangePage(BaseModel):
    items: list[ParkChange]
    next_cursor: str | None


# -- residents --------------------------------------------------------------------------


class _ResidentProfile(RejectsNul):
    """What a resident company may edit about itself."""

    name_en: str | None = Field(default=None, max_length=300)
    stage: ResidentStage | None = None
    sectors: Tags | None = None
    employees: Count | None = None
    products_count: Count | None = None
    patents_count: Count | None = None
    know_how_count: Count | None = None
    description: str | None = Field(default=None, max_length=20_000)
    website: str | None = Field(default=None, max_length=500)
    contact_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class ResidentCreate(_ResidentProfile):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    technologies: Tags
    sectors: Tags = Field(default_factory=list)
    legal_country: Country | None = None
    registration_number: str | None = Field(default=None, min_length=1, max_length=50)
    admitted_on: date | None = None

    @model_validator(mode="after")
    def _legal_id_parts(self) -> ResidentCreate:
        if (self.legal_country is None) != (self.registration_number is None):
            raise ValueError("legal_country and registration_number go together")
        return self


class ResidentUpdate(_ResidentProfile):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    technologies: Tags | None = None
    legal_country: Country | None = None
    registration_number: str | None = Field(default=None, min_length=1, max_length=50)
    admitted_on: date | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> ResidentUpdate:
        for field in ("name", "technologies", "sectors", "admitted_on"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


# Fields only the association or the park may change (not the company itself).
RESIDENT_ADMIN_FIELDS = frozenset({"legal_country", "registration_number", "admitted_on", "name"})


class ResidentLeave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    left_on: date | None = None


class ResidentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    park_id: UUID
    name: str
    name_en: str | None
    legal_id: str | None
    legal_country: str | None
    registration_number: str | None
    stage: str | None
    technologies: list[str]
    sectors: list[str]
    employees: int | None
    products_count: int | None
    patents_count: int | None
    know_how_count: int | None
    description: str | None
    website: str | None
    contact_email: str | None
    admitted_on: date
    left_on: date | None
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class ResidentPage(BaseModel):
    items: list[ResidentRead]
    next_cursor: str | None


# -- clusters ---------------------------------------------------------------------------


class ClusterMember(RejectsNul):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    park_id: UUID | None = None
    resident_id: UUID | None = None


class ClusterCreate(RejectsNul):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    country: Country
    region: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    coordinator_park_id: UUID | None = None
    specializations: Tags = Field(default_factory=list)
    members: list[ClusterMember] = Field(default_factory=list, max_length=1000)


class ClusterUpdate(RejectsNul):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    country: Country | None = None
    region: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    coordinator_park_id: UUID | None = None
    specializations: Tags | None = None
    members: list[ClusterMember] | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _required_stay_set(self) -> ClusterUpdate:
        for field in ("name", "country", "region", "specializations", "members"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class ClusterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    name_en: str | None
    country: str
    region: str
    description: str | None
    coordinator_park_id: UUID | None
    specializations: list[str]
    members: list[ClusterMember]
    version: int
    created_at: datetime
    updated_at: datetime


class ClusterPage(BaseModel):
    items: list[ClusterRead]
    next_cursor: str | None


# -- agreements -------------------------------------------------------------------------


class AgreementParty(RejectsNul):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    country: Country | None = None
    park_id: UUID | None = None


class AgreementCreate(RejectsNul):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    parties: list[AgreementParty] = Field(min_length=2, max_length=100)
    signed_on: date | None = None
    signed_at: str | None = Field(default=None, max_length=300)
    scope: str | None = Field(default=None, max_length=20_000)


class AgreementUpdate(RejectsNul):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=500)
    parties: list[AgreementParty] | None = Field(default=None, min_length=2, max_length=100)
    signed_on: date | None = None
    signed_at: str | None = Field(default=None, max_length=300)
    scope: str | None = Field(default=None, max_length=20_000)

    @model_validator(mode="after")
    def _required_stay_set(self) -> AgreementUpdate:
        for field in ("title", "parties"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class AgreementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    title: str
    parties: list[AgreementParty]
    signed_on: date | None
    signed_at: str | None
    scope: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class AgreementPage(BaseModel):
    items: list[AgreementRead]
    next_cursor: str | None


# -- KPI reports and statistics ---------------------------------------------------------


class KpiReportCreate(BaseModel):
    """A park's figures for a quarter, or for a year (no quarter). Refiling a period
    replaces its figures."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=1990, le=2100)
    quarter: int | None = Field(default=None, ge=1, le=4)
    residents: Count
    jobs: Count
    resident_revenue: Money
    taxes_paid: Money
    investments_attracted: Money
    area_occupied: Annotated[
        Decimal, Field(ge=0, le=Decimal("1e11"), max_digits=14, decimal_places=2)
    ]
    currency: str = Field(default="RUB", pattern=r"^[A-Z]{3}$")


class KpiReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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


class KpiReportPage(BaseModel):
    items: list[KpiReportRead]
    next_cursor: str | None


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


# -- filters ----------------------------------------------------------------------------


class ParkFilters(RejectsNul):
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


class ResidentStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"


class ResidentFilters(RejectsNul):
    q: str | None = Field(default=None, min_length=1, max_length=200)
    park_id: UUID | None = None
    technology: list[Tag] | None = Field(default=None, max_length=20)
    stage: ResidentStage | None = None
    status: ResidentStatus | None = None
