"""Partner request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from innopark_shared.schemas import Country, Email, Input, Patch
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field


class PartnerCreate(Input):
    name: str = Field(min_length=1, max_length=300)
    country: Country
    agreement: str | None = Field(default=None, max_length=5000)
    contact_name: str | None = Field(default=None, max_length=300)
    contact_email: Email | None = None
    website: AnyHttpUrl | None = None


class PartnerUpdate(Patch):
    not_null: ClassVar[frozenset[str]] = frozenset({"name", "country"})

    name: str | None = Field(default=None, min_length=1, max_length=300)
    country: Country | None = None
    agreement: str | None = Field(default=None, max_length=5000)
    contact_name: str | None = Field(default=None, max_length=300)
    contact_email: Email | None = None
    website: AnyHttpUrl | None = None


class PartnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    country: str
    agreement: str | None
    contact_name: str | None
    contact_email: str | None
    website: str | None
    created_at: datetime
    updated_at: datetime
