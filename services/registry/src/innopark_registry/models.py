"""Registry tables, in the `registry` schema (the migrations are the source of truth for
indexes, the search vectors and the change-feed trigger), and the registry's outbox."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from innopark_shared.db import Versioned, service_metadata
from innopark_shared.outbox import Outbox
from innopark_shared.readmodels.revocations import token_revocations_table
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "registry"
metadata = service_metadata(SCHEMA)
# Tokens revoked at the gateway (its TokensRevokedV1 events); auth consults it.
token_revocations = token_revocations_table(metadata)
# Domain code records its events here, in the caller's transaction.
outbox = Outbox(metadata, service="registry")


class Base(DeclarativeBase):
    metadata = metadata


class ChangeTracked:
    """A row of the change feed (`feed.py`). The database trigger `record_change` sets
    both on every insert and update: the id of the writing transaction and a number
    within it. The feed orders by the pair and shows only rows whose transaction is
    older than every one still running, so a mirror never skips a change that commits
    late, and writers never wait for each other."""

    change_xid: Mapped[int] = mapped_column(
        sa.BigInteger, server_default=sa.FetchedValue(), server_onupdate=sa.FetchedValue()
    )
    change_seq: Mapped[int] = mapped_column(
        sa.BigInteger, server_default=sa.FetchedValue(), server_onupdate=sa.FetchedValue()
    )


def _timestamps() -> tuple[Any, Any]:
    return (
        mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now()),
        mapped_column(
            sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
        ),
    )


class Park(ChangeTracked, Versioned, Base):
    __tablename__ = "parks"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(300))
    name_en: Mapped[str | None] = mapped_column(sa.String(300))
    legal_name: Mapped[str | None] = mapped_column(sa.String(500))
    kind: Mapped[str] = mapped_column(sa.String(40))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("parks.id")
    )
    country: Mapped[str] = mapped_column(sa.String(2))
    region: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str | None] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(500))
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    founded_year: Mapped[int | None] = mapped_column(sa.Integer)
    ownership: Mapped[str | None] = mapped_column(sa.String(20))
    specializations: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list)
    total_area: Mapped[float | None] = mapped_column(sa.Float)
    occupied_area: Mapped[float | None] = mapped_column(sa.Float)
    website: Mapped[str | None] = mapped_column(sa.String(500))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    phone: Mapped[str | None] = mapped_column(sa.String(50))
    description: Mapped[str | None] = mapped_column(sa.Text)
    membership_status: Mapped[str] = mapped_column(sa.String(20), default="none")
    member_since: Mapped[date | None] = mapped_column(sa.Date)

    accreditation_certificate_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    accreditation_status: Mapped[str | None] = mapped_column(sa.String(20))
    accreditation_certificate_number: Mapped[str | None] = mapped_column(sa.String(100))
    accreditation_level: Mapped[str | None] = mapped_column(sa.String(50))
    accreditation_issued_on: Mapped[date | None] = mapped_column(sa.Date)
    accreditation_valid_until: Mapped[date | None] = mapped_column(sa.Date)
    accreditation_changed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    removed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    search_names: Mapped[str] = mapped_column(sa.Text, default="")
    search_body: Mapped[str] = mapped_column(sa.Text, default="")
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR, sa.Computed("search_vector", persisted=True), deferred=True
    )

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_at, updated_at = _timestamps()


class Resident(ChangeTracked, Versioned, Base):
    __tablename__ = "residents"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    park_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("parks.id"))
    name: Mapped[str] = mapped_column(sa.String(300))
    name_en: Mapped[str | None] = mapped_column(sa.String(300))
    legal_country: Mapped[str | None] = mapped_column(sa.String(2))
    registration_number: Mapped[str | None] = mapped_column(sa.String(50))
    # Unique among active residents (uq_residents_active_legal_id, below).
    legal_id: Mapped[str | None] = mapped_column(sa.String(60))
    stage: Mapped[str | None] = mapped_column(sa.String(20))
    technologies: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list)
    sectors: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list)
    employees: Mapped[int | None] = mapped_column(sa.Integer)
    products_count: Mapped[int | None] = mapped_column(sa.Integer)
    patents_count: Mapped[int | None] = mapped_column(sa.Integer)
    know_how_count: Mapped[int | None] = mapped_column(sa.Integer)
    description: Mapped[str | None] = mapped_column(sa.Text)
    website: Mapped[str | None] = mapped_column(sa.String(500))
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    admitted_on: Mapped[date] = mapped_column(sa.Date)
    left_on: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    search_names: Mapped[str] = mapped_column(sa.Text, default="")
    search_body: Mapped[str] = mapped_column(sa.Text, default="")
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR, sa.Computed("search_vector", persisted=True), deferred=True
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_at, updated_at = _timestamps()

    __table_args__ = (
        sa.Index(
            "uq_residents_active_legal_id",
            "legal_id",
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
        ),
    )


class Cluster(ChangeTracked, Versioned, Base):
    __tablename__ = "clusters"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(500))
    name_en: Mapped[str | None] = mapped_column(sa.String(500))
    country: Mapped[str] = mapped_column(sa.String(2))
    region: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    coordinator_park_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("parks.id")
    )
    specializations: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list)
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_at, updated_at = _timestamps()


class Agreement(ChangeTracked, Versioned, Base):
    __tablename__ = "agreements"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(sa.String(500))
    parties: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # The parties that are parks, for "agreements of this park" (GIN-indexed).
    park_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    signed_on: Mapped[date | None] = mapped_column(sa.Date)
    signed_at: Mapped[str | None] = mapped_column(sa.String(300))
    scope: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_at, updated_at = _timestamps()


class KpiReport(ChangeTracked, Versioned, Base):
    __tablename__ = "kpi_reports"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    park_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("parks.id"))
    year: Mapped[int] = mapped_column(sa.Integer)
    quarter: Mapped[int | None] = mapped_column(sa.Integer)
    residents: Mapped[int] = mapped_column(sa.Integer)
    jobs: Mapped[int] = mapped_column(sa.Integer)
    resident_revenue: Mapped[Decimal] = mapped_column(sa.Numeric(20, 2))
    taxes_paid: Mapped[Decimal] = mapped_column(sa.Numeric(20, 2))
    investments_attracted: Mapped[Decimal] = mapped_column(sa.Numeric(20, 2))
    area_occupied: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    currency: Mapped[str] = mapped_column(sa.String(3), default="RUB")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_at, updated_at = _timestamps()
