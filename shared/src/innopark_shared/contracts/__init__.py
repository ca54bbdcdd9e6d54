"""Integration event contracts: versioned pydantic models, one module per publisher.

Importing this package registers every event type in the catalogue.
"""

from . import accreditation, events, orders, registry
from .accreditation import (
    CERTIFICATES_TOPIC,
    CertificateExpiredV1,
    CertificateGrantedV1,
    CertificateRenewedV1,
    CertificateRevokedV1,
    CertificateSuspendedV1,
)
from .base import IntegrationEvent, catalogue, event_class
from .registry import (
    PARKS_TOPIC,
    RESIDENTS_TOPIC,
    ParkCreatedV1,
    ParkRemovedV1,
    ParkUpdatedV1,
    ResidentAdmittedV1,
    ResidentLeftV1,
    ResidentUpdatedV1,
)

__all__ = [
    "accreditation",
    "events",
    "orders",
    "registry",
    "IntegrationEvent",
    "catalogue",
    "event_class",
    "CERTIFICATES_TOPIC",
    "CertificateExpiredV1",
    "CertificateGrantedV1",
    "CertificateRenewedV1",
    "CertificateRevokedV1",
    "CertificateSuspendedV1",
    "PARKS_TOPIC",
    "RESIDENTS_TOPIC",
    "ParkCreatedV1",
    "ParkRemovedV1",
    "ParkUpdatedV1",
    "ResidentAdmittedV1",
    "ResidentLeftV1",
    "ResidentUpdatedV1",
]
