"""Integration event contracts: versioned pydantic models, one module per publisher.

Importing this package registers every event type in the catalogue.
"""

from .base import IntegrationEvent, catalogue, event_class
from .registry import PARKS_TOPIC, ParkCreatedV1

__all__ = [
    "IntegrationEvent",
    "catalogue",
    "event_class",
    "PARKS_TOPIC",
    "ParkCreatedV1",
]
