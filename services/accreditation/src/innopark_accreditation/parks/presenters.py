"""A park's accreditation as the public sees it."""

from __future__ import annotations

from ..certificates.schemas import CertificateStatus
from .schemas import AccreditationStatus, ParkAccreditationRead
from .service import ParkAccreditation

_PARK_STATUS = {
    CertificateStatus.ACTIVE: AccreditationStatus.ACCREDITED,
    CertificateStatus.SUSPENDED: AccreditationStatus.SUSPENDED,
    CertificateStatus.REVOKED: AccreditationStatus.REVOKED,
    CertificateStatus.EXPIRED: AccreditationStatus.EXPIRED,
}


def present_park_accreditation(park: ParkAccreditation) -> ParkAccreditationRead:
    if park.certificate_status is None:
        return ParkAccreditationRead(
            park_id=park.park_id,
            park_name=park.park_name,
            status=AccreditationStatus.NOT_ACCREDITED,
        )
    return ParkAccreditationRead(
        park_id=park.park_id,
        park_name=park.park_name,
        status=_PARK_STATUS[park.certificate_status],
        certificate_number=park.certificate_number,
        level=park.level,
        valid_until=park.valid_until,
    )
