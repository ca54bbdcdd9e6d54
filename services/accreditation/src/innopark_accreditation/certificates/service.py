"""Certificates' lifecycle after issue (`issuance.py` issues them): the status transitions,
the validity correction and expiry — one function per action. Each records its
`CertificateAction` in the status history and announces the certificate's new state through
the outbox. They flush, never commit: the caller owns the transaction.

    active ──suspend──▶ suspended ──reinstate──▶ active
    active | suspended ──revoke──▶ revoked
    active | suspended ──expire / supersede──▶ expired
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.contracts.accreditation import (
    CertificateAmendedV1,
    CertificateExpiredV1,
    CertificateGrantedV1,
    CertificateReinstatedV1,
    CertificateRenewedV1,
    CertificateRevokedV1,
    CertificateSuspendedV1,
)
from innopark_shared.contracts.base import IntegrationEvent
from innopark_shared.errors import InvalidTransition, Unprocessable
from innopark_shared.http import check_if_match
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from ..models import Certificate, StatusChange, outbox
from .documents import certificate_content
from .queries import find_certificate
from .schemas import CertificateAction, CertificateStatus
from .signing import CertificateSigner

LIVE = (CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED)

# The statuses each action starts from (grant and renew create the certificate).
ALLOWED_FROM: dict[CertificateAction, tuple[CertificateStatus, ...]] = {
    CertificateAction.SUSPEND: (CertificateStatus.ACTIVE,),
    CertificateAction.REINSTATE: (CertificateStatus.SUSPENDED,),
    CertificateAction.REVOKE: LIVE,
    CertificateAction.EXPIRE: LIVE,
    CertificateAction.SUPERSEDE: LIVE,
    CertificateAction.AMEND: LIVE,
}

# The event each action publishes; a superseded certificate is not announced (the renewal
# that supersedes it is).
ANNOUNCED: dict[CertificateAction, type[IntegrationEvent]] = {
    CertificateAction.GRANT: CertificateGrantedV1,
    CertificateAction.RENEW: CertificateRenewedV1,
    CertificateAction.SUSPEND: CertificateSuspendedV1,
    CertificateAction.REINSTATE: CertificateReinstatedV1,
    CertificateAction.REVOKE: CertificateRevokedV1,
    CertificateAction.EXPIRE: CertificateExpiredV1,
    CertificateAction.AMEND: CertificateAmendedV1,
}


def _now() -> datetime:
    return datetime.now(UTC)


# -- recording an action -------------------------------------------------------------


def require_allowed(cert: Certificate, action: CertificateAction) -> None:
    allowed = ALLOWED_FROM[action]
    if cert.status not in allowed:
        raise InvalidTransition(
            f"Cannot {action} a certificate that is {cert.status}",
            current_status=cert.status,
            allowed_from=[s.value for s in allowed],
        )


async def announce(
    session: AsyncSession,
    cert: Certificate,
    action: CertificateAction,
    *,
    previous_id: UUID | None = None,
) -> None:
    event_class = ANNOUNCED.get(action)
    if event_class is None:
        return
    state = {
        "certificate_id": cert.id,
        "number": cert.number,
        "park_id": cert.park_id,
        "level": cert.level,
        "status": cert.status,
        "issued_on": cert.issued_on,
        "valid_until": cert.valid_until,
        "reason": cert.status_reason,
        "occurred_at": _now(),
    }
    if action is CertificateAction.RENEW:
        state["previous_certificate_id"] = previous_id
    await outbox.add(session, event_class(**state))


def record_history(
    session: AsyncSession,
    cert: Certificate,
    action: CertificateAction,
    *,
    from_status: str | None,
    reason: str | None,
    actor: str,
) -> None:
    session.add(
        StatusChange(
            certificate_id=cert.id,
            action=action,
            from_status=from_status,
            to_status=cert.status,
            reason=reason,
            actor=actor,
            at=_now(),
        )
    )


async def _change_status(
    session: AsyncSession,
    cert: Certificate,
    action: CertificateAction,
    to: CertificateStatus,
    *,
    reason: str | None,
    actor: str,
) -> Certificate:
    require_allowed(cert, action)
    from_status = cert.status
    cert.status = to
    cert.status_reason = reason
    cert.status_changed_at = _now()
    record_history(session, cert, action, from_status=from_status, reason=reason, actor=actor)
    await session.flush()
    await announce(session, cert, action)
    return cert


# -- status transitions --------------------------------------------------------------


async def _for_action(session: AsyncSession, number: str, if_match: str | None) -> Certificate:
    cert = await find_certificate(session, number, for_update=True)
    check_if_match(if_match, cert.id, cert.version)
    return cert


async def suspend_certificate(
    *,
    session: AsyncSession,
    principal: Principal,
    number: str,
    reason: str,
    if_match: str | None = None,
) -> Certificate:
    cert = await _for_action(session, number, if_match)
    return await _change_status(
        session,
        cert,
        CertificateAction.SUSPEND,
        CertificateStatus.SUSPENDED,
        reason=reason,
        actor=principal.subject,
    )


async def reinstate_certificate(
    *,
    session: AsyncSession,
    principal: Principal,
    number: str,
    reason: str | None,
    if_match: str | None = None,
) -> Certificate:
    cert = await _for_action(session, number, if_match)
    require_allowed(cert, CertificateAction.REINSTATE)
    if cert.valid_until < _now().date():
        raise InvalidTransition("The certificate is past its valid-until date; it can only expire")
    return await _change_status(
        session,
        cert,
        CertificateAction.REINSTATE,
        CertificateStatus.ACTIVE,
        reason=reason,
        actor=principal.subject,
    )


async def revoke_certificate(
    *,
    session: AsyncSession,
    principal: Principal,
    number: str,
    reason: str,
    if_match: str | None = None,
) -> Certificate:
    cert = await _for_action(session, number, if_match)
    return await _change_status(
        session,
        cert,
        CertificateAction.REVOKE,
        CertificateStatus.REVOKED,
        reason=reason,
        actor=principal.subject,
    )


async def amend_certificate(
    *,
    session: AsyncSession,
    principal: Principal,
    number: str,
    valid_until: date,
    signer: CertificateSigner,
    if_match: str | None = None,
) -> Certificate:
    """An operator's correction of the validity. The validity is signed content, so the
    certificate is re-signed; a date in the past lets the expiry sweep expire it."""
    cert = await _for_action(session, number, if_match)
    if cert.status not in ALLOWED_FROM[CertificateAction.AMEND]:
        raise InvalidTransition(
            f"A {cert.status} certificate cannot be changed", current_status=cert.status
        )
    if valid_until <= cert.issued_on:
        raise Unprocessable.for_field(
            "valid_until",
            f"valid_until must be after the issue date ({cert.issued_on.isoformat()})",
        )
    cert.valid_until = valid_until
    cert.key_id = signer.key_id
    cert.signature = signer.sign(certificate_content(cert))
    # A correction is a change in its own right (recorded, announced, a new version) even
    # when it restates the same date.
    flag_modified(cert, "valid_until")
    record_history(
        session,
        cert,
        CertificateAction.AMEND,
        from_status=cert.status,
        reason=f"valid_until set to {valid_until.isoformat()}",
        actor=principal.subject,
    )
    await session.flush()
    await announce(session, cert, CertificateAction.AMEND)
    return cert


async def supersede_certificate(
    session: AsyncSession, cert: Certificate, *, by: Certificate, actor: str
) -> Certificate:
    """A renewal replaces the live `cert` (locked by the caller); only the renewal is
    announced."""
    return await _change_status(
        session,
        cert,
        CertificateAction.SUPERSEDE,
        CertificateStatus.EXPIRED,
        reason=f"superseded by {by.number}",
        actor=actor,
    )


async def expire_certificate(session: AsyncSession, cert: Certificate) -> Certificate:
    """The validity of `cert` (locked by the caller) has ended."""
    return await _change_status(
        session,
        cert,
        CertificateAction.EXPIRE,
        CertificateStatus.EXPIRED,
        reason=f"validity ended on {cert.valid_until.isoformat()}",
        actor="system",
    )


async def expire_due_certificates(*, session: AsyncSession, today: date, batch: int = 100) -> int:
    """Expire live certificates past their valid-until date. Replicas may sweep together:
    each row is claimed with SKIP LOCKED."""
    due = (
        await session.scalars(
            sa.select(Certificate)
            .where(Certificate.status.in_(LIVE), Certificate.valid_until < today)
            .order_by(Certificate.valid_until)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for cert in due:
        await expire_certificate(session, cert)
    return len(due)
