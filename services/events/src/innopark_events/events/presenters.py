"""Events as the API answers them."""

from __future__ import annotations

from ..models import TRAVEL_TYPES, Event
from .schemas import EventRead


def present_event(event: Event) -> EventRead:
    fields = {
        name: getattr(event, name)
        for name in EventRead.model_fields
        if name != "travel_details_collected"
    }
    return EventRead(**fields, travel_details_collected=event.type in TRAVEL_TYPES)
