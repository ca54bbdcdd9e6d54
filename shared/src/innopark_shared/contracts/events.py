"""Events the events service publishes: event and registration lifecycle.

Registration events carry no personal data (no e-mail, no passport details): consumers
learn that a seat was taken or freed, not by whom beyond the registrant's organisation.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from .base import IntegrationEvent

EVENTS_TOPIC = "innopark.events.events"
REGISTRATIONS_TOPIC = "innopark.events.registrations"


class EventPublishedV1(IntegrationEvent):
    """An event became visible and open for registration (full public state)."""

    event_type = "org.innopark.events.event.published.v1"
    topic = EVENTS_TOPIC
    key_field = "event_id"

    event_id: UUID
    title: str
    type: str
    format: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    audience: str
    capacity: int
    host_park_id: UUID | None = None
    city: str | None = None
    country: str | None = None
    languages: list[str] = []
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    organiser_name: str | None = None


class EventUpdatedV1(EventPublishedV1):
    """A published event changed (its full public state after the change)."""

    event_type = "org.innopark.events.event.updated.v1"


class EventRegistrationClosedV1(IntegrationEvent):
    event_type = "org.innopark.events.event.registration_closed.v1"
    topic = EVENTS_TOPIC
    key_field = "event_id"

    event_id: UUID
    closed_at: datetime


class EventCompletedV1(IntegrationEvent):
    event_type = "org.innopark.events.event.completed.v1"
    topic = EVENTS_TOPIC
    key_field = "event_id"

    event_id: UUID
    completed_at: datetime
    attended: int


class EventCancelledV1(IntegrationEvent):
    event_type = "org.innopark.events.event.cancelled.v1"
    topic = EVENTS_TOPIC
    key_field = "event_id"

    event_id: UUID
    cancelled_at: datetime
    reason: str | None = None


class _RegistrationEvent(IntegrationEvent):
    topic = REGISTRATIONS_TOPIC
    key_field = "registration_id"

    registration_id: UUID
    event_id: UUID
    organisation: str | None = None
    occurred_at: datetime


class RegistrationPendingV1(_RegistrationEvent):
    """A registration awaits the organiser's approval (moderated event)."""

    event_type = "org.innopark.events.registration.pending.v1"


class RegistrationConfirmedV1(_RegistrationEvent):
    """A seat is held: on registration, approval, or promotion from the waitlist."""

    event_type = "org.innopark.events.registration.confirmed.v1"
    promoted_from_waitlist: bool = False


class RegistrationWaitlistedV1(_RegistrationEvent):
    event_type = "org.innopark.events.registration.waitlisted.v1"


class RegistrationRejectedV1(_RegistrationEvent):
    event_type = "org.innopark.events.registration.rejected.v1"
    reason: str | None = None


class RegistrationCancelledV1(_RegistrationEvent):
    event_type = "org.innopark.events.registration.cancelled.v1"
    previous_status: str
    # True when the organiser cancelled the whole event (additive field).
    by_event_cancellation: bool = False


class RegistrationAttendedV1(_RegistrationEvent):
    """The registrant checked in with their ticket code."""

    event_type = "org.innopark.events.registration.attended.v1"
