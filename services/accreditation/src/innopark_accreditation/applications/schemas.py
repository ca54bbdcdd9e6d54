"""Application, expert assessment and decision models."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from innopark_shared.schemas import Input, Patch
from pydantic import AnyHttpUrl, BaseModel, Field, model_validator


class ApplicationStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"


class ApplicationAction(StrEnum):
    """What can be done to an application: the rules say from which statuses, and the
    application's history records the ones that change its status or its experts."""

    EDIT = "edit"
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    ASSIGN_EXPERT = "assign_expert"
    START_REVIEW = "start_review"  # the first expert assignment
    UNASSIGN_EXPERT = "unassign_expert"
    SCORE = "score"
    DECIDE = "decide"


class Outcome(StrEnum):
    GRANTED = "granted"
    CONDITIONAL = "conditional"
    REFUSED = "refused"


# -- the application -----------------------------------------------------------------


class Evidence(Input):
    title: str = Field(min_length=1, max_length=300)
    url: AnyHttpUrl | None = None
    description: str | None = Field(default=None, max_length=2000)


class SelfAssessmentItem(Input):
    criterion_id: UUID
    score: int = Field(ge=0, le=100)
    comment: str | None = Field(default=None, max_length=5000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)


class ApplicationCreate(Input):
    # Defaults to the caller's own park; another park is not found.
    park_id: UUID | None = None
    summary: str | None = Field(default=None, max_length=10000)
    self_assessment: list[SelfAssessmentItem] = Field(default_factory=list, max_length=200)


class ApplicationUpdate(Patch):
    """A draft's edit. `summary: null` clears it; the self-assessment cannot be null (send
    `[]` to empty it)."""

    not_null: ClassVar[frozenset[str]] = frozenset({"self_assessment"})

    summary: str | None = Field(default=None, max_length=10000)
    self_assessment: list[SelfAssessmentItem] | None = Field(default=None, max_length=200)


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


# -- expert assessment ---------------------------------------------------------------


class ExpertAssign(Input):
    expert_id: str = Field(
        min_length=1, max_length=200, description="The expert user's id (token `sub`)"
    )


class ScoreItem(Input):
    criterion_id: UUID
    score: int
    comment: str | None = Field(default=None, max_length=5000)


class ScoresSubmit(Input):
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


# -- the decision --------------------------------------------------------------------


class DecisionCreate(Input):
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
