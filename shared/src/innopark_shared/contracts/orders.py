"""Events the orders service publishes: order and proposal lifecycle (defined by orders).

Every order event carries the order's state after the transition, the one it left and why
(`reason`); every proposal event likewise. For a confidential order `partner_id` is left
out, so consumers other than the association never learn the requester.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from .base import IntegrationEvent

ORDERS_TOPIC = "innopark.orders.orders"
PROPOSALS_TOPIC = "innopark.orders.proposals"


class _OrderTransitionV1(IntegrationEvent):
    """Common shape of the order lifecycle events (not itself an event type)."""

    topic = ORDERS_TOPIC
    key_field = "order_id"

    order_id: UUID
    reference: str
    partner_id: UUID | None = None  # None for a confidential order
    title: str
    technology_tags: list[str] = []
    status: str
    previous_status: str | None = None
    actor_role: str | None = None  # "system" for automatic transitions
    reason: str | None = None
    deadline: datetime | None = None
    occurred_at: datetime


class OrderSubmittedV1(_OrderTransitionV1):
    event_type = "org.innopark.orders.order.submitted.v1"


class OrderReturnedV1(_OrderTransitionV1):
    """The association returned the order to the partner with comments (`reason`)."""

    event_type = "org.innopark.orders.order.returned.v1"


class OrderPublishedV1(_OrderTransitionV1):
    event_type = "org.innopark.orders.order.published.v1"
    matched_parks: int = 0
    matched_residents: int = 0


class OrderCancelledV1(_OrderTransitionV1):
    event_type = "org.innopark.orders.order.cancelled.v1"


class OrderClosedV1(_OrderTransitionV1):
    event_type = "org.innopark.orders.order.closed.v1"


class OrderAwardedV1(_OrderTransitionV1):
    event_type = "org.innopark.orders.order.awarded.v1"
    awarded_proposal_id: UUID | None = None


class OrderExpiredV1(_OrderTransitionV1):
    event_type = "org.innopark.orders.order.expired.v1"


class _ProposalTransitionV1(IntegrationEvent):
    topic = PROPOSALS_TOPIC
    key_field = "proposal_id"

    proposal_id: UUID
    order_id: UUID
    order_reference: str
    partner_id: UUID | None = None  # None when the order is confidential
    proposer_kind: str  # "resident" | "park"
    resident_id: UUID | None = None
    park_id: UUID | None = None
    status: str
    previous_status: str | None = None
    reason: str | None = None
    occurred_at: datetime


class ProposalReceivedV1(_ProposalTransitionV1):
    event_type = "org.innopark.orders.proposal.received.v1"
    summary: str = ""


class ProposalShortlistedV1(_ProposalTransitionV1):
    event_type = "org.innopark.orders.proposal.shortlisted.v1"


class ProposalAcceptedV1(_ProposalTransitionV1):
    event_type = "org.innopark.orders.proposal.accepted.v1"


class ProposalRejectedV1(_ProposalTransitionV1):
    event_type = "org.innopark.orders.proposal.rejected.v1"
    rejection_reason: str | None = None  # structured code, e.g. "too_early_stage"


class ProposalWithdrawnV1(_ProposalTransitionV1):
    event_type = "org.innopark.orders.proposal.withdrawn.v1"


PARTNERS_TOPIC = "innopark.orders.partners"


class PartnerRegisteredV1(IntegrationEvent):
    """A partner corporation was registered (the gateway binds partner users to it)."""

    event_type = "org.innopark.orders.partner.registered.v1"
    topic = PARTNERS_TOPIC
    key_field = "partner_id"

    partner_id: UUID
    name: str
    country: str
    occurred_at: datetime


class PartnerUpdatedV1(PartnerRegisteredV1):
    """The partner's state after a change."""

    event_type = "org.innopark.orders.partner.updated.v1"
