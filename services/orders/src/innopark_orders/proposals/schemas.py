"""Proposal request and response models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from innopark_shared.schemas import Currency, Email, Input, Money
from pydantic import BaseModel, Field

from ..models import ProposalStatus, RejectionReason


class ProposalCreate(Input):
    summary: str = Field(min_length=1, max_length=2000)
    approach: str | None = Field(default=None, max_length=20_000)
    trl: int | None = Field(default=None, ge=1, le=9)
    price_amount: Money | None = None
    price_currency: Currency | None = None
    timeline_weeks: int | None = Field(default=None, ge=1, le=520)
    contact_email: Email | None = Field(
        default=None, description="Defaults to the resident's registry contact or the caller's"
    )


class RejectBody(Input):
    reason: RejectionReason = Field(
        description="Why; `order_closed` is the service's own, when an order ends"
    )
    comment: str | None = Field(default=None, max_length=5000)


class Contact(BaseModel):
    name: str | None
    email: str | None


class ProposalRead(BaseModel):
    id: UUID
    order_id: UUID
    order_reference: str
    proposer_kind: str
    proposer_reference: str = Field(
        description="Opaque name of the proposer in this proposal only; the partner sees "
        "resident_id / park_id and the contacts only once it shortlists (double opt-in)"
    )
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
