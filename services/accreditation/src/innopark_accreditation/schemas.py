"""Accreditation request and response models."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel


class AccreditationStatus(StrEnum):
    NOT_ACCREDITED = "not_accredited"
    ACCREDITED = "accredited"
    SUSPENDED = "suspended"


class ParkAccreditationRead(BaseModel):
    park_id: UUID
    park_name: str
    status: AccreditationStatus
    certificate_number: str | None = None
