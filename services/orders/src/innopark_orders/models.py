"""Orders tables, in the `orders` schema; the outbox beside them; and the states and
actions those tables record (the vocabulary every package shares)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from innopark_shared.db import Versioned, service_metadata
from innopark_shared.notifications import Notifications
from innopark_shared.outbox import Outbox
from innopark_shared.readmodels.parks import known_parks_table
from innopark_shared.readmodels.revocations import token_revocations_table
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA = "orders"
metadata = service_metadata(SCHEMA)
# Tokens revoked at the gateway (its TokensRevokedV1 events); auth consults it.
token_revocations = token_revocations_table(metadata)
outbox = Outbox(metadata, service="orders")
# E-mails to partners and proposers, written with the change (innopark_shared.notifications).
notifications = Notifications(metadata, service="orders")


# -- states and actions -----------------------------------------------------------------


class OrderStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    AWARDED = "awarded"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# The states in which an order is over: its proposals are final.
ORDER_ENDED = frozenset(
    {OrderStatus.AWARDED, OrderStatus.CLOSED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
)


class OrderAction(StrEnum):
    """What can happen to an order: the `action` of its history rows."""

    CREATE = "create"
    SUBMIT = "submit"
    RETURN = "return"
    PUBLISH = "publish"
    REMATCH = "rematch"
    CANCEL = "cancel"
    CLOSE = "close"
    AWARD = "award"
    EXPIRE = "expire"


class ProposalStatus(StrEnum):
    SUBMITTED = "submitted"
    SHORTLISTED = "shortlisted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ProposalAction(StrEnum):
    """What can happen to a proposal. The decisions are in its order's history as
    `proposal_<action>` (`history_action`)."""

    RECEIVE = "receive"
    SHORTLIST = "shortlist"
    ACCEPT = "accept"
    REJECT = "reject"
    WITHDRAW = "withdraw"

    @property
    def history_action(self) -> str:
        return f"proposal_{self.value}"


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


# -- tables -----------------------------------------------------------------------------


class Base(DeclarativeBase):
    metadata = metadata


# Parks as the registry's events describe them (local read model).
known_parks = known_parks_table(metadata)


def _now() -> sa.FunctionElement:
    return sa.func.now()


class KnownResident(Base):
    """Residents as the registry's events describe them (local read model for matching)."""

    __tablename__ = "known_residents"

    resident_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    park_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    technologies: Mapped[list[str]] = mapped_column(ARRAY(sa.String(200)))
    sectors: Mapped[list[str]] = mapped_column(ARRAY(sa.String(200)))
    # Lower-cased technologies and sectors: what order tags are compared with.
    tags: Mapped[list[str]] = mapped_column(ARRAY(sa.String(200)))
    description: Mapped[str | None] = mapped_column(sa.Text)
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    stage: Mapped[str | None] = mapped_column(sa.String(40))
    search: Mapped[Any] = mapped_column(TSVECTOR)
    left: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    source_time: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    synced_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())

    __table_args__ = (
        # No pending list (migration 0009): matching scans these once per combination.
        sa.Index(
            "ix_known_residents_tags",
            "tags",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ),
        sa.Index(
            "ix_known_residents_search",
            "search",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ),
    )


class Partner(Versioned, Base):
    __tablename__ = "partners"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(300))
    country: Mapped[str] = mapped_column(sa.String(2))
    agreement: Mapped[str | None] = mapped_column(sa.Text)
    contact_name: Mapped[str | None] = mapped_column(sa.String(300))
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    website: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


# Numbers of order references (`TO` + country + year + number); a sequence never blocks
# concurrent creations (migration 0003).
order_reference_seq = sa.Sequence("order_reference_seq", metadata=metadata)


class Order(Versioned, Base):
    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    reference: Mapped[str] = mapped_column(sa.String(40), unique=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("partners.id"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text)
    technology_tags: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)))
    trl: Mapped[int | None] = mapped_column(sa.SmallInteger)
    cooperation_types: Mapped[list[str]] = mapped_column(ARRAY(sa.String(40)))
    ip_terms: Mapped[str | None] = mapped_column(sa.Text)
    budget_min: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    budget_max: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    deadline: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    languages: Mapped[list[str]] = mapped_column(ARRAY(sa.String(8)))
    confidential: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    moderation_comment: Mapped[str | None] = mapped_column(sa.Text)
    awarded_proposal_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    # The requester, loaded with the order (presenters name it unless it is confidential).
    partner: Mapped[Partner] = relationship(lazy="selectin")

    __table_args__ = (sa.Index("ix_orders_partner_created", "partner_id", "created_at", "id"),)


class OrderTransition(Base):
    """The audit trail: every status change of an order, who made it, when and why."""

    __tablename__ = "order_transitions"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("orders.id"), index=True
    )
    action: Mapped[str] = mapped_column(sa.String(40))
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    actor_subject: Mapped[str] = mapped_column(sa.String(200))
    actor_role: Mapped[str] = mapped_column(sa.String(40))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class OrderMatch(Base):
    __tablename__ = "order_matches"

    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("orders.id"), primary_key=True
    )
    target_kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)  # park | resident
    target_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    rank: Mapped[int] = mapped_column(sa.Integer)
    score: Mapped[float] = mapped_column(sa.Float)
    explanation: Mapped[dict] = mapped_column(JSONB)
    matched_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())

    __table_args__ = (sa.Index("ix_order_matches_target", "target_kind", "target_id"),)


class Proposal(Versioned, Base):
    __tablename__ = "proposals"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("orders.id"), index=True
    )
    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    proposer_kind: Mapped[str] = mapped_column(sa.String(20))  # resident | park
    proposer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    proposer_name: Mapped[str | None] = mapped_column(sa.String(300))
    proposer_email: Mapped[str | None] = mapped_column(sa.String(320))
    summary: Mapped[str] = mapped_column(sa.String(2000))
    approach: Mapped[str | None] = mapped_column(sa.Text)
    trl: Mapped[int | None] = mapped_column(sa.SmallInteger)
    price_amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    price_currency: Mapped[str | None] = mapped_column(sa.String(3))
    timeline_weeks: Mapped[int | None] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(20))
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(40))
    status_comment: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())

    # The order (and through it the partner) is loaded with the proposal: presenters show
    # its reference and, once shortlisted, the partner's contact.
    order: Mapped[Order] = relationship(lazy="selectin")

    __table_args__ = (
        # One live proposal per proposer and order (a withdrawn one may be replaced).
        sa.Index(
            "uq_proposals_order_proposer_live",
            "order_id",
            "proposer_id",
            unique=True,
            postgresql_where=sa.text("status <> 'withdrawn'"),
        ),
    )


class IdempotencyKey(Base):
    """A create request seen under an Idempotency-Key, and the response it got."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(sa.String(200), primary_key=True)  # the caller
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(20))  # in_progress | done
    response_status: Mapped[int | None] = mapped_column(sa.Integer)
    response_body: Mapped[Any | None] = mapped_column(JSONB)
    response_headers: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)


class WebhookEndpoint(Versioned, Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str | None] = mapped_column(sa.String(500))
    secret: Mapped[str] = mapped_column(sa.String(200))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(sa.String(60)))  # empty: all
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text)
    disabled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class WebhookDelivery(Base):
    """One message to one endpoint: the persisted queue and the delivery log at once."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    message_id: Mapped[str] = mapped_column(sa.String(100))  # `webhook-id`, same on retries
    event_type: Mapped[str] = mapped_column(sa.String(60))
    payload: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(sa.String(20))  # pending | succeeded | failed
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    succeeded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # The W3C trace context of the change it announces: every attempt joins that trace.
    trace_headers: Mapped[dict | None] = mapped_column(JSONB)

    # The delivery log's attempts; loaded only where asked for (`selectinload`).
    attempt_log: Mapped[list[WebhookAttempt]] = relationship(
        order_by="WebhookAttempt.attempt", lazy="raise", passive_deletes=True
    )

    __mapper_args__ = {"eager_defaults": True}  # created_at known after the insert
    __table_args__ = (
        sa.Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at", "id"),
    )


class PartnerEvent(Base):
    """Every message a partner's webhooks would receive, whether or not an endpoint wanted
    it then: the catch-up feed (`GET /api/v1/webhooks/events`), written with the change.

    `xid` (the writing transaction) and `seq` order the feed; it shows only rows of
    transactions older than every one still running, so a message that commits late never
    lands behind a cursor already handed out (as the registry's change feed does)."""

    __tablename__ = "partner_events"

    message_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)  # webhook-id
    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(sa.String(60))
    payload: Mapped[dict] = mapped_column(JSONB)  # the webhook body, as delivered
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    xid: Mapped[int] = mapped_column(
        sa.BigInteger, server_default=sa.text("(pg_current_xact_id()::text)::bigint")
    )
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)

    __table_args__ = (sa.Index("ix_partner_events_feed", "partner_id", "xid", "seq"),)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(sa.Integer)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.Text)
    duration_ms: Mapped[int] = mapped_column(sa.Integer)
