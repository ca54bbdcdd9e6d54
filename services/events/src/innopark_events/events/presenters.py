"""Events as the API answers them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..models import TRAVEL_TYPES, Event
from .schemas import EventRead


def in_utc(value: Any) -> Any:
    """Timestamps leave in UTC: a just-written row still holds the caller's offset."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def present_event(event: Event) -> EventRead:
    fields = {
        name: in_utc(getattr(event, name))
        for name in EventRead.model_fields
        if name != "travel_details_collected"
    }
    return EventRead(**fields, travel_details_collected=event.type in TRAVEL_TYPES)
