"""Cluster and agreement request and response models (`ClusterCreate / ClusterUpdate /
ClusterRead`, `AgreementCreate / AgreementUpdate / AgreementRead`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from innopark_shared.schemas import Country, Input, Patch, Tags
from pydantic import BaseModel, Field

# -- clusters ---------------------------------------------------------------------------


class ClusterMember(Input):
    name: str = Field(min_length=1, max_length=500)
    park_id: UUID | None = None
    resident_id: UUID | None = None


class ClusterCreate(Input):
    name: str = Field(min_length=1, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    country: Country
    region: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    coordinator_park_id: UUID | None = None
    specializations: Tags = Field(default_factory=list)
    members: list[ClusterMember] = Field(default_factory=list, max_length=1000)


class ClusterUpdate(Patch):
    not_null: ClassVar[frozenset[str]] = frozenset(
        {"name", "country", "region", "specializations", "members"}
    )

    name: str | None = Field(default=None, min_length=1, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    country: Country | None = None
    region: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    coordinator_park_id: UUID | None = None
    specializations: Tags | None = None
    members: list[ClusterMember] | None = Field(default=None, max_length=1000)


class ClusterRead(BaseModel):
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


# -- cooperation agreements -------------------------------------------------------------


class AgreementParty(Input):
    name: str = Field(min_length=1, max_length=500)
    country: Country | None = None
    park_id: UUID | None = None


class AgreementCreate(Input):
    title: str = Field(min_length=1, max_length=500)
    parties: list[AgreementParty] = Field(min_length=2, max_length=100)
    signed_on: date | None = None
    signed_at: str | None = Field(default=None, max_length=300)
    scope: str | None = Field(default=None, max_length=20_000)


class AgreementUpdate(Patch):
    not_null: ClassVar[frozenset[str]] = frozenset({"title", "parties"})

    title: str | None = Field(default=None, min_length=1, max_length=500)
    parties: list[AgreementParty] | None = Field(default=None, min_length=2, max_length=100)
    signed_on: date | None = None
    signed_at: str | None = Field(default=None, max_length=300)
    scope: str | None = Field(default=None, max_length=20_000)


class AgreementRead(BaseModel):
    id: UUID
    title: str
    parties: list[AgreementParty]
    signed_on: date | None
    signed_at: str | None
    scope: str | None
    version: int
    created_at: datetime
    updated_at: datetime
