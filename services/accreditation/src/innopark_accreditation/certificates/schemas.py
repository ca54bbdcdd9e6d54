"""Certificate, status history, public key and monitoring report models."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from innopark_shared.schemas import Input, Patch
from pydantic import BaseModel, ConfigDict, Field


class CertificateStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class CertificateAction(StrEnum):
    """What happened to a certificate: the status history's `action`, and (but for
    `supersede`, which only the renewal announces) the event it publishes."""

    GRANT = "grant"
    RENEW = "renew"  # a grant for a park that held a certificate before
    SUPERSEDE = "supersede"  # the live certificate a renewal replaces expires
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"
    EXPIRE = "expire"  # the validity ended (the sweep)
    AMEND = "amend"  # an operator corrected the validity (re-signed)


class SignatureRead(BaseModel):
    alg: Literal["Ed25519"] = "Ed25519"
    kid: str
    # Exactly these top-level fields of the document, as a JSON object with sorted keys and
    # no whitespace (UTF-8), are what `value` (base64url) signs.
    signed_fields: list[str]
    value: str


class CertificateRead(BaseModel):
    """The public certificate document. Every field is covered by one of the signatures:
    `signature` over the issued content (immutable), `status_signature` over the current
    status as of `checked_at`."""

    number: str
    certificate_id: str
    park_id: str
    park_name: str
    level: str | None
    issued_on: str
    valid_until: str
    issuer: str
    previous_number: str | None
    signature: SignatureRead
    status: CertificateStatus
    status_reason: str | None
    status_changed_at: str = Field(json_schema_extra={"format": "date-time"})
    checked_at: str = Field(json_schema_extra={"format": "date-time"})
    status_signature: SignatureRead


class StatusChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    reason: str | None
    actor: str  # a user id, or "system" for the expiry sweep
    at: datetime


class CertificateHistoryRead(BaseModel):
    """The whole history at once (it is short): not a paged collection."""

    items: list[StatusChangeRead]


class CertificateUpdate(Patch):
    """An operator's correction of the validity (the certificate is re-signed). The one
    field a PATCH can change, so it is required; `null` is a 422 naming it."""

    not_null: ClassVar[frozenset[str]] = frozenset({"valid_until"})

    valid_until: date


class StatusReason(Input):
    reason: str = Field(min_length=1, max_length=5000)


class OptionalReason(Input):
    reason: str | None = Field(default=None, max_length=5000)


class PublicKeyRead(BaseModel):
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    public_key_pem: str
    jwk: dict[str, str]


class MonitoringReportCreate(Input):
    year: int = Field(ge=2000, le=2100)
    residents: int | None = Field(default=None, ge=0)
    occupancy_percent: float | None = Field(default=None, ge=0, le=100)
    programmes: int | None = Field(default=None, ge=0)
    summary: str = Field(min_length=1, max_length=20000)


class MonitoringReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    certificate_id: UUID
    year: int
    residents: int | None
    occupancy_percent: float | None
    programmes: int | None
    summary: str
    submitted_by: str
    submitted_at: datetime


class CertificateAlertRead(BaseModel):
    """A certificate that needs its park's attention (`expiring`: renew it;
    `monitoring_overdue`: file the report of `year`)."""

    number: str
    park_id: UUID
    park_name: str
    alert: Literal["expiring", "monitoring_overdue"]
    valid_until: date
    due_on: date = Field(description="The valid-until date, or the day the report was due")
    year: int | None = Field(description="The monitoring report's year (monitoring_overdue)")
    notified_at: datetime | None = Field(description="When the park was told by e-mail")


class CertificateAlertsRead(BaseModel):
    """Every current alert at once (one or two per active certificate): not paged."""

    items: list[CertificateAlertRead]
