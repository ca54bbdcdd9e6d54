"""Accreditation request and response models (`<Thing>Create / Update / Read / Page`)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- criteria catalogue --------------------------------------------------------------


class CatalogueStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


class CriterionCreate(_In):
    code: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    weight: float = Field(gt=0, le=100)
    scale_min: int = Field(default=0, ge=0, le=100)
    scale_max: int = Field(default=5, ge=1, le=100)
    mandatory: bool = False
    # Mean expert score a mandatory criterion needs; default: the middle of the scale.
    pass_score: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _scale(self) -> CriterionCreate:
        if self.scale_max <= self.scale_min:
            raise ValueError("scale_max must be greater than scale_min")
        if self.pass_score is not None and not self.scale_min <= self.pass_score <= self.scale_max:
            raise ValueError("pass_score must lie within the scale")
        return self


class HeadingCreate(_In):
    title: str = Field(min_length=1, max_length=300)
    criteria: list[CriterionCreate] = Field(min_length=1, max_length=100)


class CatalogueCreate(_In):
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    # Level name -> minimum total (0..100) for the level, e.g. {"gold": 85, "silver": 70}.
    levels: dict[str, float] = Field(min_length=1, max_length=10)
    headings: list[HeadingCreate] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> CatalogueCreate:
        codes = [c.code for h in self.headings for c in h.criteria]
        if len(codes) != len(set(codes)):
            raise ValueError("criterion codes must be unique within a catalogue")
        for name, threshold in self.levels.items():
            if not (1 <= len(name) <= 40) or not 0 <= threshold <= 100:
                raise ValueError("levels map names (1..40 chars) to totals between 0 and 100")
        return self


class CriterionRead(BaseModel):
    id: UUID
    code: str
    title: str
    description: str | None
    weight: float
    scale_min: int
    scale_max: int
    mandatory: bool
    pass_score: int


class HeadingRead(BaseModel):
    title: str
    criteria: list[CriterionRead]


class CatalogueRead(BaseModel):
    id: UUID
    number: int
    title: str
    description: str | None
    status: CatalogueStatus
    levels: dict[str, float]
    published_at: datetime | None
    created_at: datetime
    headings: list[HeadingRead]


class CataloguePage(BaseModel):
    items: list[CatalogueRead]
    next_cursor: str | None


# -- applications --------------------------------------------------------------------


class ApplicationStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"


class Evidence(_In):
    title: str = Field(min_length=1, max_length=300)
    url: AnyHttpUrl | None = None
    description: str | None = Field(default=None, max_length=2000)


class SelfAssessmentItem(_In):
    criterion_id: UUID
    score: int = Field(ge=0, le=100)
    comment: str | None = Field(default=None, max_length=5000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)


class ApplicationCreate(_In):
    # Defaults to the caller's own park; another park is not found.
    park_id: UUID | None = None
    summary: str | None = Field(default=None, max_length=10000)
    self_assessment: list[SelfAssessmentItem] = Field(default_factory=list, max_length=200)


class ApplicationUpdate(_In):
    summary: str | None = Field(default=None, max_length=10000)
    self_assessment: list[SelfAssessmentItem] | None = Field(default=None, max_length=200)


class Outcome(StrEnum):
    GRANTED = "granted"
    CONDITIONAL = "conditional"
    REFUSED = "refused"


class DecisionRead(BaseModel):
    outcome: Outcome
    level: str | None
    reasons: str
    conditions: str | None
    total: float | None
    decided_at: datetime
    decided_by: str
    certificate_number: str | None


class ApplicationRead(BaseModel):
    id: UUID
    park_id: UUID
    park_name: str
    catalogue_id: UUID
    catalogue_number: int
    status: ApplicationStatus
    summary: str | None
    self_assessment: list[SelfAssessmentItem]
    experts: list[str]
    created_by: str
    created_at: datetime
    submitted_at: datetime | None
    review_started_at: datetime | None
    decision: DecisionRead | None


class ApplicationPage(BaseModel):
    items: list[ApplicationRead]
    next_cursor: str | None


class ExpertAssign(_In):
    expert_id: str = Field(
        min_length=1, max_length=200, description="The expert user's id (token `sub`)"
    )


class ScoreItem(_In):
    criterion_id: UUID
    score: int
    comment: str | None = Field(default=None, max_length=5000)


class ScoresSubmit(_In):
    scores: list[ScoreItem] = Field(min_length=1, max_length=200)


class ExpertScore(BaseModel):
    expert_id: str
    score: int
    comment: str | None
    scored_at: datetime


class CriterionResult(BaseModel):
    criterion_id: UUID
    code: str
    heading: str
    title: str
    weight: float
    mandatory: bool
    scale_min: int
    scale_max: int
    pass_score: int
    mean_score: float | None
    # (mean - min) / (max - min): 0..1
    normalized: float | None
    # Mandatory criteria only: the mean reaches pass_score (None while unscored).
    met: bool | None
    scores: list[ExpertScore]


class ExpertProgress(BaseModel):
    expert_id: str
    scored: int
    of: int


class AssessmentRead(BaseModel):
    application_id: UUID
    catalogue_id: UUID
    # Every assigned expert scored every criterion.
    complete: bool
    # Weighted total on 0..100 over the criteria scored so far (None before any score).
    total: float | None
    mandatory_met: bool
    suggested_level: str | None
    experts: list[ExpertProgress]
    criteria: list[CriterionResult]


class DecisionCreate(_In):
    outcome: Outcome
    level: str | None = Field(default=None, min_length=1, max_length=40)
    reasons: str = Field(min_length=1, max_length=10000)
    conditions: str | None = Field(default=None, max_length=10000)
    # Granted only: the certificate's last valid day (default: the configured validity).
    valid_until: date | None = None

    @model_validator(mode="after")
    def _shape(self) -> DecisionCreate:
        if self.outcome is Outcome.GRANTED and not self.level:
            raise ValueError("a grant names the level")
        if self.outcome is not Outcome.GRANTED and (self.level or self.valid_until):
            raise ValueError("only a grant carries a level and valid_until")
        if self.outcome is Outcome.CONDITIONAL and not self.conditions:
            raise ValueError("a conditional decision states its conditions")
        return self


# -- certificates --------------------------------------------------------------------


class CertificateStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


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
    status_changed_at: str
    checked_at: str
    status_signature: SignatureRead


class CertificatePage(BaseModel):
    items: list[CertificateRead]
    next_cursor: str | None


class StatusChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    reason: str | None
    actor: str  # a user id, or "system" for the expiry sweep
    at: datetime


class StatusChangePage(BaseModel):
    items: list[StatusChangeRead]


class CertificateUpdate(_In):
    # An operator's correction of the validity (the certificate is re-signed).
    valid_until: date


class StatusReason(_In):
    reason: str = Field(min_length=1, max_length=5000)


class OptionalReason(_In):
    reason: str | None = Field(default=None, max_length=5000)


class PublicKeyRead(BaseModel):
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    public_key_pem: str
    jwk: dict[str, str]


class MonitoringReportCreate(_In):
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


class MonitoringReportPage(BaseModel):
    items: list[MonitoringReportRead]
    next_cursor: str | None


# -- parks ---------------------------------------------------------------------------


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


class ParkAccreditationPage(BaseModel):
    items: list[ParkAccreditationRead]
    next_cursor: str | None
