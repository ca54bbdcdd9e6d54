"""Certificate routes: `/api/v1/certificates` — public verification by number, the status
actions, the validity correction, the history, the annual monitoring reports, and the
alerts (expiring, monitoring report overdue)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response, status
from innopark_shared.auth import OperatorPrincipal
from innopark_shared.db import SessionDep
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..config import SettingsDep
from ..deps import IfMatch, OperatorOrManager, ParkManager, tag
from ..models import Certificate
from . import alerts, monitoring, queries, service
from .presenters import (
    present_alert,
    present_certificate,
    present_monitoring_report,
    present_public_key,
    present_status_change,
)
from .schemas import (
    CertificateAlertsRead,
    CertificateHistoryRead,
    CertificateRead,
    CertificateStatus,
    CertificateUpdate,
    MonitoringReportCreate,
    MonitoringReportRead,
    OptionalReason,
    PublicKeyRead,
    StatusReason,
)
from .signing import CertificateSigner, SignerDep

router = APIRouter(prefix="/api/v1/certificates", tags=["accreditation: certificates"])

Number = Annotated[str, Path(min_length=1, max_length=40, description="e.g. ATP-2026-0001")]


def _answer(response: Response, cert: Certificate, signer: CertificateSigner) -> CertificateRead:
    tag(response, cert.id, cert.version)
    return present_certificate(cert, signer)


@router.get(
    "", response_model=Page[CertificateRead], summary="Certificates (public; e.g. ?status=active)"
)
async def list_certificates(
    session: SessionDep,
    signer: SignerDep,
    status_: Annotated[CertificateStatus | None, Query(alias="status")] = None,
    park_id: UUID | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[CertificateRead]:
    found = await queries.list_certificates(
        session=session, status=status_, park_id=park_id, limit=limit, cursor=cursor
    )
    return found.present(lambda cert: present_certificate(cert, signer))


@router.get(
    "/public-key",
    response_model=PublicKeyRead,
    summary="The Ed25519 public key that verifies certificates offline (PEM and JWK)",
)
async def get_public_key(signer: SignerDep, response: Response) -> PublicKeyRead:
    response.headers["Cache-Control"] = "public, max-age=3600"
    return present_public_key(signer)


@router.get(
    "/alerts",
    response_model=CertificateAlertsRead,
    summary="Certificates that need their park's attention: expiring soon, or a monitoring "
    "report overdue (the association; a park manager: its park's)",
)
async def list_certificate_alerts(
    session: SessionDep,
    settings: SettingsDep,
    principal: OperatorOrManager,
    park_id: UUID | None = None,
) -> CertificateAlertsRead:
    found = await alerts.current_alerts(
        session,
        today=datetime.now(UTC).date(),
        settings=settings,
        park_id=alerts.visible_alerts(principal, park_id),
    )
    return CertificateAlertsRead(items=[present_alert(a) for a in found])


@router.get(
    "/{number}",
    response_model=CertificateRead,
    summary="Verify a certificate by its number (public; revoked or expired ones answer too)",
)
async def get_certificate(
    number: Number, session: SessionDep, signer: SignerDep, response: Response
) -> CertificateRead:
    return _answer(response, await queries.get_certificate(session=session, number=number), signer)


@router.patch(
    "/{number}",
    response_model=CertificateRead,
    summary="Correct the validity (operator; If-Match; re-signed)",
)
async def update_certificate(
    number: Number,
    data: CertificateUpdate,
    session: SessionDep,
    principal: OperatorPrincipal,
    signer: SignerDep,
    response: Response,
    if_match: IfMatch = None,
) -> CertificateRead:
    cert = await service.amend_certificate(
        session=session,
        principal=principal,
        number=number,
        valid_until=data.valid_until,
        signer=signer,
        if_match=if_match,
    )
    return _answer(response, cert, signer)


@router.get(
    "/{number}/history",
    response_model=CertificateHistoryRead,
    summary="Every status change and correction: who, when, why (operator)",
)
async def certificate_history(
    number: Number, session: SessionDep, principal: OperatorPrincipal
) -> CertificateHistoryRead:
    changes = await queries.certificate_history(session=session, number=number)
    return CertificateHistoryRead(items=[present_status_change(c) for c in changes])


@router.post(
    "/{number}/suspend", response_model=CertificateRead, summary="active → suspended (operator)"
)
async def suspend_certificate(
    number: Number,
    data: StatusReason,
    session: SessionDep,
    principal: OperatorPrincipal,
    signer: SignerDep,
    response: Response,
    if_match: IfMatch = None,
) -> CertificateRead:
    cert = await service.suspend_certificate(
        session=session, principal=principal, number=number, reason=data.reason, if_match=if_match
    )
    return _answer(response, cert, signer)


@router.post(
    "/{number}/reinstate", response_model=CertificateRead, summary="suspended → active (operator)"
)
async def reinstate_certificate(
    number: Number,
    data: OptionalReason,
    session: SessionDep,
    principal: OperatorPrincipal,
    signer: SignerDep,
    response: Response,
    if_match: IfMatch = None,
) -> CertificateRead:
    cert = await service.reinstate_certificate(
        session=session, principal=principal, number=number, reason=data.reason, if_match=if_match
    )
    return _answer(response, cert, signer)


@router.post(
    "/{number}/revoke",
    response_model=CertificateRead,
    summary="active | suspended → revoked (operator)",
)
async def revoke_certificate(
    number: Number,
    data: StatusReason,
    session: SessionDep,
    principal: OperatorPrincipal,
    signer: SignerDep,
    response: Response,
    if_match: IfMatch = None,
) -> CertificateRead:
    cert = await service.revoke_certificate(
        session=session, principal=principal, number=number, reason=data.reason, if_match=if_match
    )
    return _answer(response, cert, signer)


# -- annual monitoring reports -------------------------------------------------------


@router.post(
    "/{number}/monitoring-reports",
    response_model=MonitoringReportRead,
    status_code=status.HTTP_201_CREATED,
    summary="File the annual monitoring report while the certificate is active (park manager)",
)
async def create_monitoring_report(
    number: Number,
    data: MonitoringReportCreate,
    session: SessionDep,
    principal: ParkManager,
    response: Response,
) -> MonitoringReportRead:
    report = await monitoring.file_monitoring_report(
        session=session, principal=principal, number=number, data=data
    )
    response.headers["Location"] = f"/api/v1/certificates/{number}/monitoring-reports/{report.id}"
    return present_monitoring_report(report)


@router.get(
    "/{number}/monitoring-reports",
    response_model=Page[MonitoringReportRead],
    summary="A certificate's monitoring reports (operator; the park's manager)",
)
async def list_monitoring_reports(
    number: Number,
    session: SessionDep,
    principal: OperatorOrManager,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[MonitoringReportRead]:
    found = await monitoring.list_monitoring_reports(
        session=session, principal=principal, number=number, limit=limit, cursor=cursor
    )
    return found.present(present_monitoring_report)


@router.get(
    "/{number}/monitoring-reports/{report_id}",
    response_model=MonitoringReportRead,
    summary="One monitoring report (operator; the park's manager)",
)
async def get_monitoring_report(
    number: Number, report_id: UUID, session: SessionDep, principal: OperatorOrManager
) -> MonitoringReportRead:
    report = await monitoring.get_monitoring_report(
        session=session, principal=principal, number=number, report_id=report_id
    )
    return present_monitoring_report(report)
