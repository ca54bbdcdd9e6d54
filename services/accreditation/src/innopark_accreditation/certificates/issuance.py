"""Issuing certificates: a grant issues a park's first certificate, or renews the one it
held (the new certificate names the previous one and supersedes it while it is live).
Numbers come from one database sequence, unique across replicas and years."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from innopark_shared.errors import Unprocessable
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Application, Certificate, certificate_number_seq
from .documents import certificate_content
from .schemas import CertificateAction, CertificateStatus
from .service import LIVE, announce, record_history, supersede_certificate
from .signing import CertificateSigner


@dataclass(frozen=True, slots=True)
class IssueTerms:
    """What a grant decides and the scheme configures for the certificate it issues."""

    level: str | None
    valid_until: date | None  # None: the configured validity from today
    issuer: str
    prefix: str  # of the number: ATP-2026-0001
    validity_years: int


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


async def _issue(
    session: AsyncSession,
    *,
    application: Application,
    park_name: str,
    terms: IssueTerms,
    signer: CertificateSigner,
    previous: Certificate | None,
) -> Certificate:
    now = datetime.now(UTC)
    today = now.date()
    if terms.valid_until is not None and terms.valid_until <= today:
        raise Unprocessable.for_field(
            "valid_until", f"valid_until must be after the issue date ({today.isoformat()})"
        )
    seq = await session.scalar(sa.select(certificate_number_seq.next_value()))
    cert = Certificate(
        id=uuid.uuid4(),
        number=f"{terms.prefix}-{today.year}-{seq:04d}",
        park_id=application.park_id,
        park_name=park_name,
        level=terms.level,
        issued_on=today,
        valid_until=terms.valid_until
        or (add_years(today, terms.validity_years) - timedelta(days=1)),
        status=CertificateStatus.ACTIVE,
        status_reason=None,
        status_changed_at=now,
        application_id=application.id,
        previous_certificate_id=previous.id if previous else None,
        previous_number=previous.number if previous else None,
        issuer=terms.issuer,
        key_id=signer.key_id,
        signature="",
        created_at=now,
    )
    cert.signature = signer.sign(certificate_content(cert))
    session.add(cert)
    await session.flush()
    return cert


async def grant_certificate(
    session: AsyncSession,
    *,
    application: Application,
    park_name: str,
    terms: IssueTerms,
    signer: CertificateSigner,
    actor: str,
) -> Certificate:
    """The certificate a grant issues: the park's first, or a renewal of the one it held."""
    previous = await session.scalar(
        sa.select(Certificate)
        .where(Certificate.park_id == application.park_id)
        .order_by(Certificate.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if previous is not None:
        return await renew_certificate(
            session,
            previous=previous,
            application=application,
            park_name=park_name,
            terms=terms,
            signer=signer,
            actor=actor,
        )
    cert = await _issue(
        session,
        application=application,
        park_name=park_name,
        terms=terms,
        signer=signer,
        previous=None,
    )
    record_history(
        session, cert, CertificateAction.GRANT, from_status=None, reason="granted", actor=actor
    )
    await session.flush()
    await announce(session, cert, CertificateAction.GRANT)
    return cert


async def renew_certificate(
    session: AsyncSession,
    *,
    previous: Certificate,
    application: Application,
    park_name: str,
    terms: IssueTerms,
    signer: CertificateSigner,
    actor: str,
) -> Certificate:
    """Re-accreditation: a new certificate naming `previous` (locked by the caller), which
    it supersedes while that one is live. Only the renewal is announced."""
    cert = await _issue(
        session,
        application=application,
        park_name=park_name,
        terms=terms,
        signer=signer,
        previous=previous,
    )
    record_history(
        session, cert, CertificateAction.RENEW, from_status=None, reason="granted", actor=actor
    )
    if previous.status in LIVE:
        await supersede_certificate(session, previous, by=cert, actor=actor)
    await session.flush()
    await announce(session, cert, CertificateAction.RENEW, previous_id=previous.id)
    return cert
