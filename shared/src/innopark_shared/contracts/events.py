"""Events the events service publishes: event and registration lifecycle (defined by events)."""

from __future__ import annotations

EVENTS_TOPIC = "innopark.events.events"
REGISTRATIONS_TOPIC = "innopark.events.registrations"
