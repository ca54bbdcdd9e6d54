"""Resident request and response models (`ResidentCreate / ResidentUpdate / ResidentRead`)
and the resident list's filters."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from innopark_shared.schemas import Country, Email, Input, Patch, Tag, Tags
from pydantic import BaseModel, Field

from ..routing import QueryFilters

# A head count of things a company has (no shared equivalent).
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class ResidentStage(StrEnum):
    STARTUP = "startup"
    SPIN_OFF = "spin_off"
    SME = "sme"
    LARGE = "large"


class ResidentStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"


class _ResidentProfile(Input):
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
    contact_email: Email | None = None


class ResidentCreate(_ResidentProfile):
    """`legal_country` and `registration_number` go together (the service checks it,
    naming the field)."""

    name: str = Field(min_length=1, max_length=300)
    technologies: Tags
    sectors: Tags = Field(default_factory=list)
    legal_country: Country | None = None
    registration_number: str | None = Field(default=None, min_length=1, max_length=50)
    admitted_on: date | None = None


class ResidentUpdate(Patch, _ResidentProfile):
    not_null: ClassVar[frozenset[str]] = frozenset(
        {"name", "technologies", "sectors", "admitted_on"}
    )

    name: str | None = Field(default=None, min_length=1, max_length=300)
    technologies: Tags | None = None
    legal_country: Country | None = None
    registration_number: str | None = Field(default=None, min_length=1, max_length=50)
    admitted_on: date | None = None


# Fields only the association or the park may change (not the company itself).
RESIDENT_ADMIN_FIELDS = frozenset({"legal_country", "registration_number", "admitted_on", "name"})


class ResidentLeave(Input):
    left_on: date | None = None


class ResidentRead(BaseModel):
    """A resident's card. Every field is public except the contact fields (`contact_email`),
    which are null for anyone but the association, the park's managers and the company."""

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
    contact_email: str | None = Field(
        description="Only for operators, the managers of the resident's park and the "
        "resident itself; null for everyone else"
    )
    admitted_on: date
    left_on: date | None
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class ResidentFilters(QueryFilters):
    q: str | None = Field(default=None, min_length=1, max_length=200)
    park_id: UUID | None = None
    technology: list[Tag] | None = Field(default=None, max_length=20)
    stage: ResidentStage | None = None
    status: ResidentStatus | None = None
