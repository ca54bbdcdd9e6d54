"""Orders request and response models (`<Thing>Create / Update / Read / Page`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Email = Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e15"), max_digits=18, decimal_places=2)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- partners ---------------------------------------------------------------------------


class PartnerCreate(Strict):
    name: str = Field(min_length=1, max_length=300)
    country: Country
    agreement: str | None = Field(default=None, max_length=5000)
    contact_name: str | None = Field(default=None, max_length=300)
    contact_email: Email | None = None
    website: AnyHttpUrl | None = None


class PartnerUpdate(Strict):
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


class PartnerPage(BaseModel):
    items: list[PartnerRead]
    next_cursor: str | None


# -- orders -----------------------------------------------------------------------------


class OrderStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    AWARDED = "awarded"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class CooperationType(StrEnum):
    LICENCE = "licence"
    JOINT_RND = "joint_rnd"
    SUPPLY = "supply"
    JOINT_VENTURE = "joint_venture"
    INVESTMENT = "investment"
    TECHNICAL_COOPERATION = "technical_cooperation"


def _future(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("must carry a time zone (RFC 3339)")
    if value <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return value


class _OrderFields(Strict):
    @field_validator("deadline", check_fields=False)
    @classmethod
    def _deadline_future(cls, value: datetime | None) -> datetime | None:
        return _future(value)

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


class OrderUpdate(_OrderFields):
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


class OrderPage(BaseModel):
    items: list[OrderRead]
    next_cursor: str | None


class ReasonBody(Strict):
    reason: str | None = Field(default=None, max_length=5000)


class ReturnBody(Strict):
    comment: str = Field(min_length=1, max_length=5000, description="What the partner must fix")


class AwardBody(Strict):
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


class TransitionPage(BaseModel):
    items: list[TransitionRead]
    next_cursor: str | None = None


class MatchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    target_kind: str
    target_id: UUID
    name: str | None = None
    rank: int
    score: float
    explanation: dict[str, Any]
    matched_at: datetime


class MatchPage(BaseModel):
    items: list[MatchRead]
    next_cursor: str | None = None


# -- proposals --------------------------------------------------------------------------


class ProposalStatus(StrEnum):
    SUBMITTED = "submitted"
    SHORTLISTED = "shortlisted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class RejectionReason(StrEnum):
    TOO_EARLY_STAGE = "too_early_stage"
    BENEFIT_UNCLEAR = "benefit_unclear"
    COMMERCIAL_ROUTE_UNCLEAR = "commercial_route_unclear"
    TECHNOLOGY_MISMATCH = "technology_mismatch"
    PRICE_TOO_HIGH = "price_too_high"
    TIMELINE_TOO_LONG = "timeline_too_long"
    IP_TERMS_UNACCEPTABLE = "ip_terms_unacceptable"
    OTHER = "other"
    # Set by the service, not by a partner: the order ended (awarded to another proposal,
    # closed, cancelled or expired) while this proposal was still open.
    ORDER_CLOSED = "order_closed"


class ProposalCreate(Strict):
    summary: str = Field(min_length=1, max_length=2000)
    approach: str | None = Field(default=None, max_length=20_000)
    trl: int | None = Field(default=None, ge=1, le=9)
    price_amount: Money | None = None
    price_currency: Currency | None = None
    timeline_weeks: int | None = Field(default=None, ge=1, le=520)
    contact_email: Email | None = Field(
        default=None, description="Defaults to the resident's registry contact or the caller's"
    )


class RejectBody(Strict):
    reason: RejectionReason
    comment: str | None = Field(default=None, max_length=5000)

    @field_validator("reason")
    @classmethod
    def _not_system_reason(cls, value: RejectionReason) -> RejectionReason:
        if value is RejectionReason.ORDER_CLOSED:
            raise ValueError("order_closed is set by the service when an order ends")
        return value


class Contact(BaseModel):
    name: str | None
    email: str | None


class ProposalRead(BaseModel):
    id: UUID
    order_id: UUID
    order_reference: str
    proposer_kind: str
    resident_id: UUID | None
    park_id: UUID | None
    summary: str
    approach: str | None
    trl: int | None
    price_amount: Decimal | None
    price_currency: str | None
    timeline_weeks: int | None
    status: ProposalStatus
    rejection_reason: str | None
    status_comment: str | None
    # Double opt-in: both contacts appear only once the partner has shortlisted.
    proposer_contact: Contact | None
    requester_contact: Contact | None
    created_at: datetime
    updated_at: datetime


class ProposalPage(BaseModel):
    items: list[ProposalRead]
    next_cursor: str | None


# -- webhooks ---------------------------------------------------------------------------


class WebhookEventType(StrEnum):
    ORDER_SUBMITTED = "order.submitted"
    ORDER_RETURNED = "order.returned"
    ORDER_PUBLISHED = "order.published"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_CLOSED = "order.closed"
    ORDER_AWARDED = "order.awarded"
    ORDER_EXPIRED = "order.expired"
    PROPOSAL_RECEIVED = "proposal.received"
    PROPOSAL_SHORTLISTED = "proposal.shortlisted"
    PROPOSAL_ACCEPTED = "proposal.accepted"
    PROPOSAL_REJECTED = "proposal.rejected"
    PROPOSAL_WITHDRAWN = "proposal.withdrawn"


class WebhookEndpointCreate(Strict):
    url: AnyHttpUrl = Field(description="http(s) URL; private and loopback ranges are refused")
    description: str | None = Field(default=None, max_length=500)
    event_types: list[WebhookEventType] = Field(
        default_factory=list, max_length=20, description="Empty: every event"
    )

    @field_validator("url")
    @classmethod
    def _length(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        if len(str(value)) > 2000:
            raise ValueError("URL longer than 2000 characters")
        return value


class WebhookEndpointUpdate(Strict):
    url: AnyHttpUrl | None = None
    description: str | None = Field(default=None, max_length=500)
    event_types: list[WebhookEventType] | None = Field(default=None, max_length=20)
    enabled: bool | None = Field(default=None, description="true re-enables a disabled endpoint")


class WebhookEndpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointRead):
    secret: str = Field(description="whsec_… signing secret, shown only in this response")


class WebhookEndpointPage(BaseModel):
    items: list[WebhookEndpointRead]
    next_cursor: str | None


class WebhookAttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookDeliveryRead(BaseModel):
    id: UUID
    endpoint_id: UUID
    message_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    succeeded_at: datetime | None
    attempt_log: list[WebhookAttemptRead]
    payload: dict[str, Any]


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDeliveryRead]
    next_cursor: str | None
