"""Events tables, in the `events` schema, the words their status columns hold, and the
service's outbox (domain code records events with `await outbox.add(session, ...)`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from innopark_shared.db import Versioned, service_metadata
from innopark_shared.notifications import Notifications
from innopark_shared.outbox import Outbox
from innopark_shared.readmodels.parks import known_parks_table
from innopark_shared.readmodels.revocations import token_revocations_table
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "events"
TIMESTAMPTZ = sa.DateTime(timezone=True)
metadata = service_metadata(SCHEMA)
# Tokens revoked at the gateway (its TokensRevokedV1 events); auth consults it.
token_revocations = token_revocations_table(metadata)
outbox = Outbox(metadata, service="events")
# E-mails to registrants, written with the change they tell about (innopark_shared.notifications).
notifications = Notifications(metadata, service="events")


class Base(DeclarativeBase):
    metadata = metadata


# -- vocabulary ----------------------------------------------------------------------


class EventType(StrEnum):
    TRAINING = "training"
    FORUM = "forum"
    EXHIBITION = "exhibition"
    STRATEGIC_SESSION = "strategic_session"
    DELEGATION_VISIT = "delegation_visit"
    STUDY_TOUR = "study_tour"
    SIGNING_CEREMONY = "signing_ceremony"


# Event types whose participants may need a visa invitation letter.
TRAVEL_TYPES = frozenset({EventType.DELEGATION_VISIT, EventType.STUDY_TOUR})


class EventFormat(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    HYBRID = "hybrid"


class Audience(StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"


class EventStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    REGISTRATION_CLOSED = "registration_closed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# An event not over yet: it may still be changed, given a programme, or cancelled.
EDITABLE = frozenset({EventStatus.DRAFT, EventStatus.PUBLISHED, EventStatus.REGISTRATION_CLOSED})
# An event that is on: seats are given and tickets checked in.
RUNNING = frozenset({EventStatus.PUBLISHED, EventStatus.REGISTRATION_CLOSED})


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    ATTENDED = "attended"


# Statuses that hold a seat. A `pending` registration (moderated event) does not: its
# seat is decided when it is approved (confirmed, or waitlisted when the event is full).
SEATED = frozenset({RegistrationStatus.CONFIRMED, RegistrationStatus.ATTENDED})
# Registrations still in play: they can be cancelled, and block the same e-mail twice.
LIVE = frozenset(
    {RegistrationStatus.PENDING, RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED}
)


# -- read models (from the registry's events) ----------------------------------------

# Parks as the registry's events describe them: host parks, and member parks.
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


# -- the service's own tables --------------------------------------------------------


class Event(Versioned, Base):
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
    created_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=sa.func.now())


class Registration(Versioned, Base):
    __tablename__ = "registrations"
    __table_args__ = (
        # One live registration per e-mail and event (cancelled or rejected ones may retry).
        sa.Index(
            "uq_registrations_event_email_live",
            "event_id",
            "email_key",
            unique=True,
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
    created_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, server_default=sa.func.now())


class TravelDetails(Base):
    """Passport and stay details for a visa invitation letter: seen only by the registrant
    and the organisers (kept apart from the registration so no list query touches them).
    Written whole (PUT, an upsert), never patched: not versioned."""

    __tablename__ = "travel_details"

    registration_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        sa.ForeignKey(f"{SCHEMA}.registrations.id", ondelete="CASCADE"),
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
    """One slot of an event's programme (a panel, a workshop, a site visit). Added and
    removed, never changed: not versioned."""

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
