"""What accreditation publishes, and the events it subscribes to (listed in one place)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from innopark_shared.consumer import Subscriptions
from innopark_shared.contracts.accreditation import (
    CERTIFICATES_TOPIC,
    CertificateAmendedV1,
    CertificateExpiredV1,
    CertificateGrantedV1,
    CertificateReinstatedV1,
    CertificateRenewedV1,
    CertificateRevokedV1,
    CertificateSuspendedV1,
)
from innopark_shared.outbox import add_event, event_source
from innopark_shared.readmodels.parks import subscribe_known_parks
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Certificate, known_parks, metadata

# Certificate granted / renewed / suspended / reinstated / revoked / expired / amended,
# key = park_id,
# each carrying the certificate's full state (the registry shows a park's accreditation).
PUBLISHES: list[str] = [CERTIFICATES_TOPIC]

subscriptions = Subscriptions()
# Park created / updated / removed keep the local copy of the registry's parks.
subscribe_known_parks(subscriptions, known_parks)

SOURCE = event_source("accreditation")

_BY_KIND = {
    "granted": CertificateGrantedV1,
    "suspended": CertificateSuspendedV1,
    "reinstated": CertificateReinstatedV1,
    "revoked": CertificateRevokedV1,
    "expired": CertificateExpiredV1,
    "amended": CertificateAmendedV1,
}


async def publish_certificate(
    session: AsyncSession, cert: Certificate, kind: str, *, previous_id: UUID | None = None
) -> None:
    """Record the certificate event `kind` in the outbox, in the caller's transaction."""
    state = {
        "certificate_id": cert.id,
        "number": cert.number,
        "park_id": cert.park_id,
        "level": cert.level,
        "status": cert.status,
        "issued_on": cert.issued_on,
        "valid_until": cert.valid_until,
        "reason": cert.status_reason,
        "occurred_at": datetime.now(UTC),
    }
    if kind == "renewed":
        event = CertificateRenewedV1(**state, previous_certificate_id=previous_id)
    else:
        event = _BY_KIND[kind](**state)
    await add_event(session, metadata, event, source=SOURCE)
