"""Events tables, in the `events` schema."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from innopark_shared.db import service_metadata
from innopark_shared.readmodels.parks import known_parks_table
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "events"
TIMESTAMPTZ = sa.DateTime(timezone=True)
metadata = service_metadata(SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


# Parks as the registry's events describe them (local read model).
known_parks = known_parks_table(metadata)

# Residents and their park, from the registry's resident events: enough to tell whether a
# resident's user belongs to a member park (members-only events).
known_residents = sa.Table(
    "known_residents",
    metadata,
    sa.Column("resident_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("park_id", UUID(as_uuid=True), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("left", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("synced_at", TIMESTAMPTZ, nullable=False, server_default=sa.func.now()),
)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("capacity >= 0", name="capacity_non_negative"),
        sa.Index("ix_events_starts_at_id", "starts_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    type: Mapped[str] = mapped_column(sa.String(40))
    format: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(30), index=True)
    starts_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(sa.String(64))  # IANA name, kept for TZID in .ics
    venue: Mapped[str | None] = mapped_column(sa.String(300))
    online_url: Mapped[str | None] = mapped_column(sa.String(500))
    host_park_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    city: Mapped[str | None] = mapped_column(sa.String(200))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    languages: Mapped[list[str]] = mapped_column(ARRAY(sa.String(8)), default=list)
    audience: Mapped[str] = mapped_column(sa.String(20))
    capacity: Mapped[int] = mapped_column(sa.Integer)
    moderated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    registration_opens_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    registration_closes_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    organiser_subject: Mapped[str] = mapped_column(sa.String(200))
    organiser_name: Mapped[str | None] = mapped_column(sa.String(300))
    cancellation_reason: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=sa.func.now())


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (
        # One live registration per e-mail and event (cancelled or rejected ones may retry).
        sa.Index(
            "uq_registrations_event_email_live", "event_id", "email_key", unique=True,
            postgresql_where=sa.text("status NOT IN ('cancelled', 'rejected')"),
        ),
        sa.Index("ix_registrations_event_status_seq", "event_id", "status", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # Arrival order (assigned at insert, under the event's row lock): the waitlist is FIFO.
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.events.id", ondelete="CASCADE")
    )
    full_name: Mapped[str] = mapped_column(sa.String(300))
    email: Mapped[str] = mapped_column(sa.String(320))
    email_key: Mapped[str] = mapped_column(sa.String(320))  # lower-cased for uniqueness
    organisation: Mapped[str | None] = mapped_column(sa.String(300))
    position: Mapped[str | None] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(50))
    status: Mapped[str] = mapped_column(sa.String(20))
    ticket_code: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    # SHA-256 of the private token given to the registrant (the token itself is not kept).
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    registrant_subject: Mapped[str | None] = mapped_column(sa.String(200))
    checked_in_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=sa.func.now())


class TravelDetails(Base):
    """Passport and stay details for a visa invitation letter: seen only by the registrant
    and the organisers (kept apart from the registration so no list query touches them)."""

    __tablename__ = "travel_details"

    registration_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.registrations.id", ondelete="CASCADE"),
        primary_key=True,
    )
    passport_name: Mapped[str] = mapped_column(sa.String(300))
    nationality: Mapped[str] = mapped_column(sa.String(2))
    date_of_birth: Mapped[date] = mapped_column(sa.Date)
    passport_number: Mapped[str] = mapped_column(sa.String(40))
    passport_expires_on: Mapped[date | None] = mapped_column(sa.Date)
    stay_from: Mapped[date] = mapped_column(sa.Date)
    stay_to: Mapped[date] = mapped_column(sa.Date)
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=sa.func.now())


class AgendaSession(Base):
    """One slot of an event's programme (a panel, a workshop, a site visit)."""

    __tablename__ = "sessions"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.Index("ix_sessions_event_starts", "event_id", "starts_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.events.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    starts_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    ends_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    room: Mapped[str | None] = mapped_column(sa.String(200))
    speakers: Mapped[list[str]] = mapped_column(ARRAY(sa.String(300)), default=list)
    language: Mapped[str | None] = mapped_column(sa.String(8))
    created_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=sa.func.now())
