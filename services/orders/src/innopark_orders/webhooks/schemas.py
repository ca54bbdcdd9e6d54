"""Webhook request and response models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar
from uuid import UUID

from innopark_shared.schemas import Input, Patch
from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field


class WebhookEventType(StrEnum):
    """What a partner's endpoint can subscribe to: `<aggregate>.<what happened>`."""

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


def _not_too_long(value: AnyHttpUrl) -> AnyHttpUrl:
    if len(str(value)) > 2000:
        raise ValueError("URL longer than 2000 characters")
    return value


WebhookUrl = Annotated[AnyHttpUrl, AfterValidator(_not_too_long)]


class WebhookEndpointCreate(Input):
    url: WebhookUrl = Field(description="http(s) URL; private and loopback ranges are refused")
    description: str | None = Field(default=None, max_length=500)
    event_types: list[WebhookEventType] = Field(
        default_factory=list, max_length=20, description="Empty: every event"
    )


class WebhookEndpointUpdate(Patch):
    not_null: ClassVar[frozenset[str]] = frozenset({"url", "event_types", "enabled"})

    url: WebhookUrl | None = None
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


class FeedDeliveryRead(BaseModel):
    """Where a message of the feed went: one delivery to one endpoint."""

    delivery_id: UUID
    endpoint_id: UUID
    status: str  # pending | succeeded | failed
    attempts: int
    succeeded_at: datetime | None


class PartnerEventRead(BaseModel):
    """A message the partner's webhooks would receive: `payload` is the webhook's body
    exactly, `message_id` its `webhook-id`."""

    message_id: str
    type: str
    created_at: datetime
    payload: dict[str, Any]
    deliveries: list[FeedDeliveryRead] = Field(
        description="Its deliveries to the partner's endpoints so far (empty: none wanted it)"
    )


class FeedRedelivery(Input):
    endpoint_id: UUID | None = Field(
        default=None,
        description="Only to this endpoint (default: every enabled one that wants the type)",
    )


class WebhookMessage(BaseModel):
    """What a partner's endpoint receives (POST, JSON), signed per Standard Webhooks."""

    type: WebhookEventType
    timestamp: datetime = Field(description="When it was queued (UTC)")
    data: dict[str, Any] = Field(
        description="The integration event's fields (order or proposal), plus `partner_id`"
    )
