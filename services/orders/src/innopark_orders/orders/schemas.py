"""Order request and response models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from innopark_shared.schemas import Currency, Input, Language, Money, Patch, Tag
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..models import OrderStatus


class CooperationType(StrEnum):
    LICENCE = "licence"
    JOINT_RND = "joint_rnd"
    SUPPLY = "supply"
    JOINT_VENTURE = "joint_venture"
    INVESTMENT = "investment"
    TECHNICAL_COOPERATION = "technical_cooperation"


class _OrderFields(Input):
    """The rules an order's fields keep, whether created or changed."""

    @field_validator("deadline", check_fields=False)
    @classmethod
    def _deadline_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (RFC 3339)")
        if value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value

    @field_validator("technology_tags", check_fields=False)
    @classmethod
    def _distinct_tags(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        seen: dict[str, str] = {}
        for tag in value:
            seen.setdefault(tag.lower(), tag)
        return list(seen.values())

    @model_validator(mode="after")
    def _budget_range(self) -> Any:
        low, high = getattr(self, "budget_min", None), getattr(self, "budget_max", None)
        if low is not None and high is not None and high < low:
            raise ValueError("budget_max must not be below budget_min")
        return self


class OrderCreate(_OrderFields):
    title: str = Field(min_length=3, max_length=300)
    description: str = Field(min_length=1, max_length=20_000)
    technology_tags: list[Tag] = Field(min_length=1, max_length=50)
    deadline: datetime
    trl: int | None = Field(default=None, ge=1, le=9, description="Required TRL, 1-9")
    cooperation_types: list[CooperationType] = Field(default_factory=list, max_length=6)
    ip_terms: str | None = Field(default=None, max_length=5000)
    budget_min: Money | None = None
    budget_max: Money | None = None
    currency: Currency | None = None
    languages: list[Language] = Field(default_factory=list, max_length=20)
    confidential: bool = False


class OrderUpdate(Patch, _OrderFields):
    not_null: ClassVar[frozenset[str]] = frozenset(
        {
            "title",
            "description",
            "technology_tags",
            "deadline",
            "cooperation_types",
            "languages",
            "confidential",
        }
    )

    title: str | None = Field(default=None, min_length=3, max_length=300)
    description: str | None = Field(default=None, min_length=1, max_length=20_000)
    technology_tags: list[Tag] | None = Field(default=None, min_length=1, max_length=50)
    deadline: datetime | None = None
    trl: int | None = Field(default=None, ge=1, le=9)
    cooperation_types: list[CooperationType] | None = Field(default=None, max_length=6)
    ip_terms: str | None = Field(default=None, max_length=5000)
    budget_min: Money | None = None
    budget_max: Money | None = None
    currency: Currency | None = None
    languages: list[Language] | None = Field(default=None, max_length=20)
    confidential: bool | None = None


class Requester(BaseModel):
    partner_id: UUID
    name: str
    country: str


class OrderRead(BaseModel):
    id: UUID
    reference: str
    status: OrderStatus
    title: str
    description: str
    technology_tags: list[str]
    trl: int | None
    cooperation_types: list[str]
    ip_terms: str | None
    budget_min: Decimal | None
    budget_max: Decimal | None
    currency: str | None
    deadline: datetime
    languages: list[str]
    confidential: bool
    # None for a confidential order, except for its partner and the association.
    requester: Requester | None
    moderation_comment: str | None
    awarded_proposal_id: UUID | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class ReturnBody(Input):
    comment: str = Field(min_length=1, max_length=5000, description="What the partner must fix")


class AwardBody(Input):
    proposal_id: UUID | None = Field(
        default=None, description="The accepted proposal; defaults to the only accepted one"
    )
    reason: str | None = Field(default=None, max_length=5000)


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    from_status: str | None
    to_status: str
    actor_subject: str
    actor_role: str
    reason: str | None
    proposal_id: UUID | None
    at: datetime


class MatchRead(BaseModel):
    target_kind: str
    target_id: UUID
    name: str | None = None
    rank: int
    score: float
    explanation: dict[str, Any]
    matched_at: datetime
