"""Events the accreditation service publishes: the certificate lifecycle.

Every certificate event carries the certificate's full current state, so the registry
shows a park's accreditation from the latest event of its certificate alone."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from .base import IntegrationEvent

CERTIFICATES_TOPIC = "innopark.accreditation.certificates"


class _CertificateState(IntegrationEvent):
    topic = CERTIFICATES_TOPIC
    key_field = "park_id"  # one park's certificate events stay in order

    certificate_id: UUID
    number: str
    park_id: UUID
    level: str | None = None
    status: str  # active | suspended | revoked | expired
    issued_on: date
    valid_until: date
    reason: str | None = None
    occurred_at: datetime


class CertificateGrantedV1(_CertificateState):
    event_type = "org.innopark.accreditation.certificate.granted.v1"


class CertificateRenewedV1(_CertificateState):
    event_type = "org.innopark.accreditation.certificate.renewed.v1"
    previous_certificate_id: UUID | None = None


class CertificateSuspendedV1(_CertificateState):
    event_type = "org.innopark.accreditation.certificate.suspended.v1"


class CertificateRevokedV1(_CertificateState):
    event_type = "org.innopark.accreditation.certificate.revoked.v1"


class CertificateExpiredV1(_CertificateState):
    event_type = "org.innopark.accreditation.certificate.expired.v1"


class CertificateReinstatedV1(_CertificateState):
    """A suspended certificate is active again (added after the first five; consumers that
    do not know it skip it, so subscribe to keep a park's accreditation current)."""

    event_type = "org.innopark.accreditation.certificate.reinstated.v1"


class CertificateAmendedV1(_CertificateState):
    """An operator corrected a live certificate's validity (it was re-signed); the state is
    the certificate's full state after the correction."""

    event_type = "org.innopark.accreditation.certificate.amended.v1"
