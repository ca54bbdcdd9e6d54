"""Accreditation tables, in the `accreditation` schema, and its outbox.

No ORM relationships: every read is an explicit query (async sessions cannot lazy-load).
The aggregates changed by PATCH or actions (catalogue versions, applications, certificates)
are `Versioned`: a lost race is a 409, never a silently lost update.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from innopark_shared.db import Versioned, service_metadata
from innopark_shared.notifications import Notifications
from innopark_shared.outbox import Outbox
from innopark_shared.readmodels.parks import known_parks_table
from innopark_shared.readmodels.revocations import token_revocations_table
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "accreditation"
metadata = service_metadata(SCHEMA)
# Tokens revoked at the gateway (its TokensRevokedV1 events); auth consults it.
token_revocations = token_revocations_table(metadata)
# Domain code records events with `await outbox.add(session, event)`, in its transaction.
outbox = Outbox(metadata, service="accreditation")
# E-mails to parks (certificate expiring, monitoring report overdue), written with the
# sweep that finds them (innopark_shared.notifications).
notifications = Notifications(metadata, service="accreditation")


class Base(DeclarativeBase):
    metadata = metadata


# Parks as the registry's events describe them (local read model).
known_parks = known_parks_table(metadata)

# Users as the gateway's lifecycle events describe them (role and state only): who may
# be assigned as an expert (`applications/experts.py`).
known_users = sa.Table(
    "known_users",
    metadata,
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source_time", sa.DateTime(timezone=True), nullable=False),
)

# Certificate numbers come from one sequence: unique across replicas and years.
certificate_number_seq = sa.Sequence("certificate_number_seq", schema=SCHEMA, metadata=metadata)

_now = sa.func.now()


class CatalogueVersion(Versioned, Base):
    """One version of the criteria catalogue. Published versions are immutable; the latest
    published one is current, and an application scores against the version it opened under."""

    __tablename__ = "catalogue_versions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    number: Mapped[int] = mapped_column(sa.Integer, nullable=False, unique=True)
    title: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(
        sa.String(20), nullable=False
    )  # draft | published | retired
    # Level thresholds on the 0..100 total, e.g. {"gold": 85, "silver": 70, "bronze": 55}.
    levels: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now)


class Criterion(Base):
    __tablename__ = "criteria"
    __table_args__ = (sa.UniqueConstraint("catalogue_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    catalogue_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        sa.ForeignKey(f"{SCHEMA}.catalogue_versions.id"),
        nullable=False,
        index=True,
    )
    heading: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    code: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    weight: Mapped[float] = mapped_column(sa.Float, nullable=False)
    scale_min: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    scale_max: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    mandatory: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    # A mandatory criterion is met when its mean expert score reaches this.
    pass_score: Mapped[int] = mapped_column(sa.Integer, nullable=False)


class Application(Versioned, Base):
    __tablename__ = "applications"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    park_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    catalogue_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.catalogue_versions.id"), nullable=False
    )
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    summary: Mapped[str | None] = mapped_column(sa.Text)
    # [{"criterion_id", "score", "comment", "evidence": [{"title", "url"}]}]
    self_assessment: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, default=list
    )
    created_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=_now, onupdate=_now
    )
    submitted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    review_started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(sa.String(200))
    outcome: Mapped[str | None] = mapped_column(sa.String(20))  # granted | conditional | refused
    level: Mapped[str | None] = mapped_column(sa.String(40))
    reasons: Mapped[str | None] = mapped_column(sa.Text)
    conditions: Mapped[str | None] = mapped_column(sa.Text)
    # The assessment as computed when the decision was taken (kept for the record).
    decided_total: Mapped[float | None] = mapped_column(sa.Float)
    certificate_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class ExpertAssignment(Base):
    __tablename__ = "expert_assignments"

    application_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.applications.id"), primary_key=True
    )
    expert_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True, index=True)
    assigned_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    assigned_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now)


class Score(Base):
    __tablename__ = "scores"

    application_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.applications.id"), primary_key=True
    )
    expert_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    criterion_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.criteria.id"), primary_key=True
    )
    score: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    scored_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=_now, onupdate=_now
    )


class Certificate(Versioned, Base):
    __tablename__ = "certificates"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(sa.String(40), nullable=False, unique=True)
    park_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    park_name: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    level: Mapped[str | None] = mapped_column(sa.String(40))
    issued_on: Mapped[date] = mapped_column(sa.Date, nullable=False)
    valid_until: Mapped[date] = mapped_column(sa.Date, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, index=True)
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    status_changed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    application_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.applications.id"), nullable=False
    )
    previous_certificate_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    previous_number: Mapped[str | None] = mapped_column(sa.String(40))
    issuer: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    # Ed25519 signature (base64url) over the canonical signed content, and the key's id.
    signature: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    key_id: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now)


class StatusChange(Base):
    """Every certificate status change and correction: what, who, when, why."""

    __tablename__ = "certificate_status_changes"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    certificate_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.certificates.id"), nullable=False, index=True
    )
    action: Mapped[str] = mapped_column(sa.String(20), nullable=False)  # a CertificateAction
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.String(200), nullable=False)  # a subject or "system"
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now)


class ApplicationStatusChange(Base):
    """An application's history: each transition and expert (un)assignment, who and when."""

    __tablename__ = "application_status_changes"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.applications.id"), nullable=False, index=True
    )
    action: Mapped[str] = mapped_column(sa.String(20), nullable=False)  # an ApplicationAction
    from_status: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    to_status: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    detail: Mapped[str | None] = mapped_column(sa.Text)  # the expert, the outcome
    actor: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now)


class MonitoringReport(Base):
    """The annual monitoring report a park files while its certificate is active."""

    __tablename__ = "monitoring_reports"
    __table_args__ = (sa.UniqueConstraint("certificate_id", "year"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    certificate_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.certificates.id"), nullable=False, index=True
    )
    year: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    residents: Mapped[int | None] = mapped_column(sa.Integer)
    occupancy_percent: Mapped[float | None] = mapped_column(sa.Float)
    programmes: Mapped[int | None] = mapped_column(sa.Integer)
    summary: Mapped[str] = mapped_column(sa.Text, nullable=False)
    submitted_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now)


class CertificateAlert(Base):
    """A threshold a certificate has crossed (`expiring:60d`, `monitoring_overdue:2025`),
    recorded once, with the notification that told the park: the sweep tells each
    certificate of each threshold once, on any replica."""

    __tablename__ = "certificate_alerts"

    certificate_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        sa.ForeignKey(f"{SCHEMA}.certificates.id", ondelete="CASCADE"),
        primary_key=True,
    )
    alert: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    raised_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now)
    notification_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
