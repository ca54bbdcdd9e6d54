"""A park's accreditation as the public sees it."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel


class AccreditationStatus(StrEnum):
    NOT_ACCREDITED = "not_accredited"
    ACCREDITED = "accredited"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ParkAccreditationRead(BaseModel):
    park_id: UUID
    park_name: str
    status: AccreditationStatus
    certificate_number: str | None = None
    level: str | None = None
    valid_until: date | None = None
