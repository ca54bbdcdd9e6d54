"""The annual monitoring report a park files while its certificate is active: one a year,
by the park's manager; the operators and the park read them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.errors import Conflict, InvalidTransition, NotFound, Unprocessable
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Certificate, MonitoringReport
from .queries import find_certificate
from .schemas import CertificateStatus, MonitoringReportCreate


def _may_read(principal: Principal, cert: Certificate) -> bool:
    return principal.is_operator or principal.manages_park(cert.park_id)


async def file_monitoring_report(
    *, session: AsyncSession, principal: Principal, number: str, data: MonitoringReportCreate
) -> MonitoringReport:
    # The lock orders two filings for one certificate: the second finds the first.
    cert = await find_certificate(session, number, for_update=True)
    if not principal.manages_park(cert.park_id):
        raise NotFound(f"Certificate {number} not found")
    if cert.status != CertificateStatus.ACTIVE:
        raise InvalidTransition(
            f"Monitoring reports are filed while the certificate is active, not {cert.status}"
        )
    # A report covers a year of the validity that has begun: none for years before the
    # issue, after the validity, or still ahead.
    first, last = cert.issued_on.year, min(cert.valid_until.year, datetime.now(UTC).year)
    if not first <= data.year <= last:
        raise Unprocessable.for_field(
            "year",
            f"year must be within the certificate's validity so far ({first}-{last})",
        )
    exists = await session.scalar(
        sa.select(MonitoringReport.id).where(
            MonitoringReport.certificate_id == cert.id, MonitoringReport.year == data.year
        )
    )
    if exists:
        raise Conflict(
            f"The monitoring report for {data.year} is already filed", report_id=str(exists)
        )
    report = MonitoringReport(
        id=uuid.uuid4(),
        certificate_id=cert.id,
        submitted_by=principal.subject,
        submitted_at=datetime.now(UTC),
        **data.model_dump(),
    )
    session.add(report)
    await session.flush()
    return report


async def get_monitoring_report(
    *, session: AsyncSession, principal: Principal, number: str, report_id: UUID
) -> MonitoringReport:
    cert = await find_certificate(session, number)
    report = await session.get(MonitoringReport, report_id)
    if report is None or report.certificate_id != cert.id or not _may_read(principal, cert):
        raise NotFound(f"Monitoring report {report_id} not found")
    return report


async def list_monitoring_reports(
    *, session: AsyncSession, principal: Principal, number: str, limit: int, cursor: str | None
) -> Slice[MonitoringReport]:
    cert = await find_certificate(session, number)
    if not _may_read(principal, cert):
        raise NotFound(f"Certificate {number} not found")
    return await paginate(
        session,
        sa.select(MonitoringReport).where(MonitoringReport.certificate_id == cert.id),
        order_by=[MonitoringReport.year, MonitoringReport.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )
