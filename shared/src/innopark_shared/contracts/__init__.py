"""Integration event contracts: versioned pydantic models, one module per publisher.

Importing this package registers every event type in the catalogue.
"""

from . import accreditation, events, gateway, orders, registry
from .accreditation import (
    CERTIFICATES_TOPIC,
    CertificateExpiredV1,
    CertificateGrantedV1,
    CertificateRenewedV1,
    CertificateRevokedV1,
    CertificateSuspendedV1,
)
from .base import IntegrationEvent, catalogue, event_class
from .gateway import (
    CREDENTIALS_TOPIC,
    USERS_TOPIC,
    TokensRevokedV1,
    UserCreatedV1,
    UserDeletedV1,
    UserUpdatedV1,
)
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
    "gateway",
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
    "CREDENTIALS_TOPIC",
    "USERS_TOPIC",
    "TokensRevokedV1",
    "UserCreatedV1",
    "UserDeletedV1",
    "UserUpdatedV1",
    "PARKS_TOPIC",
    "RESIDENTS_TOPIC",
    "ParkCreatedV1",
    "ParkRemovedV1",
    "ParkUpdatedV1",
    "ResidentAdmittedV1",
    "ResidentLeftV1",
    "ResidentUpdatedV1",
]
