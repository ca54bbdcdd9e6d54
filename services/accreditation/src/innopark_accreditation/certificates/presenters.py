"""Certificates as the API shows them: the signed public document, the history, reports."""

from __future__ import annotations

from datetime import UTC, datetime

from ..models import Certificate, MonitoringReport, StatusChange
from .alerts import Alert
from .documents import (
    SIGNED_FIELDS,
    STATUS_SIGNED_FIELDS,
    certificate_content,
    status_content,
)
from .schemas import (
    CertificateAlertRead,
    CertificateRead,
    MonitoringReportRead,
    PublicKeyRead,
    SignatureRead,
    StatusChangeRead,
)
from .signing import CertificateSigner


def present_certificate(
    cert: Certificate, signer: CertificateSigner, *, checked_at: datetime | None = None
) -> CertificateRead:
    """The document anyone may verify: the issued content with the signature made at issue,
    and the status as of now, signed now."""
    status = status_content(cert, checked_at or datetime.now(UTC))
    return CertificateRead(
        **certificate_content(cert),
        **{k: v for k, v in status.items() if k != "number"},
        signature=SignatureRead(kid=cert.key_id, signed_fields=SIGNED_FIELDS, value=cert.signature),
        status_signature=SignatureRead(
            kid=signer.key_id, signed_fields=STATUS_SIGNED_FIELDS, value=signer.sign(status)
        ),
    )


def present_status_change(change: StatusChange) -> StatusChangeRead:
    return StatusChangeRead.model_validate(change)


def present_monitoring_report(report: MonitoringReport) -> MonitoringReportRead:
    return MonitoringReportRead.model_validate(report)


def present_public_key(signer: CertificateSigner) -> PublicKeyRead:
    return PublicKeyRead(
        key_id=signer.key_id, public_key_pem=signer.public_pem(), jwk=signer.public_jwk()
    )


def present_alert(alert: Alert) -> CertificateAlertRead:
    cert = alert.certificate
    return CertificateAlertRead(
        number=cert.number,
        park_id=cert.park_id,
        park_name=cert.park_name,
        alert=alert.kind,  # type: ignore[arg-type]  # "expiring" or "monitoring_overdue"
        valid_until=cert.valid_until,
        due_on=alert.due_on,
        year=alert.year,
        notified_at=alert.notified_at,
    )
