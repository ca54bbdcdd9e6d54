"""Accreditation HTTP routes: parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from innopark_shared.auth import (
    OperatorPrincipal,
    OptionalPrincipal,
    Principal,
    Role,
    require_roles,
)
from innopark_shared.db import SessionDep
from innopark_shared.http import etag_of
from innopark_shared.pagination import CursorQuery, LimitQuery

from . import service
from .config import AccreditationSettings
from .schemas import (
    ApplicationCreate,
    ApplicationPage,
    ApplicationRead,
    ApplicationStatus,
    ApplicationUpdate,
    AssessmentRead,
    CatalogueCreate,
    CataloguePage,
    CatalogueRead,
    CertificatePage,
    CertificateRead,
    CertificateStatus,
    CertificateUpdate,
    DecisionCreate,
    ExpertAssign,
    MonitoringReportCreate,
    MonitoringReportPage,
    MonitoringReportRead,
    OptionalReason,
    ParkAccreditationPage,
    ParkAccreditationRead,
    PublicKeyRead,
    ScoresSubmit,
    StatusChangePage,
    StatusChangeRead,
    StatusReason,
)
from .signing import CertificateSigner

router = APIRouter(prefix="/api/v1")

Reviewer = Annotated[
    Principal, Depends(require_roles(Role.OPERATOR, Role.PARK_MANAGER, Role.EXPERT))
]
ParkManager = Annotated[Principal, Depends(require_roles(Role.PARK_MANAGER))]
Expert = Annotated[Principal, Depends(require_roles(Role.EXPERT))]
OperatorOrManager = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.PARK_MANAGER))]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
Number = Annotated[str, Path(min_length=1, max_length=40, description="e.g. ATP-2026-0001")]


def _signer(request: Request) -> CertificateSigner:
    return request.app.state.signer


def _settings(request: Request) -> AccreditationSettings:
    return request.app.state.settings


Signer = Annotated[CertificateSigner, Depends(_signer)]
Settings = Annotated[AccreditationSettings, Depends(_settings)]


def _tag(response: Response, resource_id: object, version: int) -> None:
    response.headers["ETag"] = etag_of(resource_id, version)


# -- criteria catalogue --------------------------------------------------------------

catalogues = APIRouter(prefix="/accreditation/catalogues", tags=["accreditation: criteria"])


@catalogues.get(
    "", response_model=CataloguePage, summary="Criteria catalogue versions (drafts: operators only)"
)
async def list_catalogues(
    session: SessionDep,
    principal: OptionalPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> CataloguePage:
    items, next_cursor = await service.list_catalogues(
        session=session, principal=principal, limit=limit, cursor=cursor
    )
    return CataloguePage(items=items, next_cursor=next_cursor)


@catalogues.post(
    "",
    response_model=CatalogueRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a draft catalogue version (operator)",
)
async def create_catalogue(
    data: CatalogueCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> CatalogueRead:
    created, version = await service.create_catalogue(
        session=session, principal=principal, data=data
    )
    response.headers["Location"] = f"/api/v1/accreditation/catalogues/{created.id}"
    _tag(response, created.id, version)
    return created


@catalogues.get(
    "/current", response_model=CatalogueRead, summary="The catalogue version new applications use"
)
async def get_current_catalogue(session: SessionDep, response: Response) -> CatalogueRead:
    found, version = await service.get_current_catalogue(session=session)
    _tag(response, found.id, version)
    return found


@catalogues.get("/{catalogue_id}", response_model=CatalogueRead, summary="One catalogue version")
async def get_catalogue(
    catalogue_id: UUID, session: SessionDep, principal: OptionalPrincipal, response: Response
) -> CatalogueRead:
    found, version = await service.get_catalogue(
        session=session, principal=principal, catalogue_id=catalogue_id
    )
    _tag(response, found.id, version)
    return found


@catalogues.post(
    "/{catalogue_id}/publish",
    response_model=CatalogueRead,
    summary="Publish a draft: it becomes current, the previous one is retired (operator)",
)
async def publish_catalogue(
    catalogue_id: UUID, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> CatalogueRead:
    published, version = await service.publish_catalogue(
        session=session, principal=principal, catalogue_id=catalogue_id
    )
    _tag(response, published.id, version)
    return published


# -- applications --------------------------------------------------------------------

applications = APIRouter(prefix="/accreditation/applications", tags=["accreditation: applications"])


@applications.post(
    "",
    response_model=ApplicationRead,
    status_code=status.HTTP_201_CREATED,
    summary="Open an application for the caller's park (park manager)",
)
async def create_application(
    data: ApplicationCreate, session: SessionDep, principal: ParkManager, response: Response
) -> ApplicationRead:
    created, version = await service.create_application(
        session=session, principal=principal, data=data
    )
    response.headers["Location"] = f"/api/v1/accreditation/applications/{created.id}"
    _tag(response, created.id, version)
    return created


@applications.get(
    "",
    response_model=ApplicationPage,
    summary="Applications the caller may see (operator: all; manager: own park; expert: assigned)",
)
async def list_applications(
    session: SessionDep,
    principal: Reviewer,
    status_: Annotated[ApplicationStatus | None, Query(alias="status")] = None,
    park_id: UUID | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> ApplicationPage:
    items, next_cursor = await service.list_applications(
        session=session,
        principal=principal,
        status=status_,
        park_id=park_id,
        limit=limit,
        cursor=cursor,
    )
    return ApplicationPage(items=items, next_cursor=next_cursor)


@applications.get("/{application_id}", response_model=ApplicationRead, summary="One application")
async def get_application(
    application_id: UUID, session: SessionDep, principal: Reviewer, response: Response
) -> ApplicationRead:
    found, version = await service.get_application(
        session=session, principal=principal, application_id=application_id
    )
    _tag(response, found.id, version)
    return found


@applications.patch(
    "/{application_id}",
    response_model=ApplicationRead,
    summary="Edit a draft: summary and self-assessment with evidence (park manager; If-Match)",
)
async def update_application(
    application_id: UUID,
    data: ApplicationUpdate,
    session: SessionDep,
    principal: ParkManager,
    response: Response,
    if_match: IfMatch = None,
) -> ApplicationRead:
    updated, version = await service.update_application(
        session=session,
        principal=principal,
        application_id=application_id,
        data=data,
        if_match=if_match,
    )
    _tag(response, updated.id, version)
    return updated


@applications.post(
    "/{application_id}/submit",
    response_model=ApplicationRead,
    summary="draft → submitted (park manager; the self-assessment covers every criterion)",
)
async def submit_application(
    application_id: UUID, session: SessionDep, principal: ParkManager, response: Response
) -> ApplicationRead:
    updated, version = await service.submit_application(
        session=session, principal=principal, application_id=application_id
    )
    _tag(response, updated.id, version)
    return updated


@applications.post(
    "/{application_id}/withdraw",
    response_model=ApplicationRead,
    summary="draft | submitted → withdrawn (park manager)",
)
async def withdraw_application(
    application_id: UUID, session: SessionDep, principal: ParkManager, response: Response
) -> ApplicationRead:
    updated, version = await service.withdraw_application(
        session=session, principal=principal, application_id=application_id
    )
    _tag(response, updated.id, version)
    return updated


@applications.post(
    "/{application_id}/experts",
    response_model=ApplicationRead,
    summary="Assign an expert (operator); the first assignment moves submitted → under_review",
)
async def assign_expert(
    application_id: UUID,
    data: ExpertAssign,
    session: SessionDep,
    principal: OperatorPrincipal,
    response: Response,
) -> ApplicationRead:
    updated, version = await service.assign_expert(
        session=session,
        principal=principal,
        application_id=application_id,
        expert_id=data.expert_id,
    )
    _tag(response, updated.id, version)
    return updated


@applications.delete(
    "/{application_id}/experts/{expert_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unassign an expert; their scores are dropped (operator)",
)
async def unassign_expert(
    application_id: UUID,
    expert_id: Annotated[str, Path(max_length=200)],
    session: SessionDep,
    principal: OperatorPrincipal,
) -> Response:
    await service.unassign_expert(
        session=session, principal=principal, application_id=application_id, expert_id=expert_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@applications.put(
    "/{application_id}/scores",
    response_model=AssessmentRead,
    summary="Score criteria with comments (assigned expert; within each criterion's scale)",
)
async def submit_scores(
    application_id: UUID, data: ScoresSubmit, session: SessionDep, principal: Expert
) -> AssessmentRead:
    return await service.submit_scores(
        session=session, principal=principal, application_id=application_id, data=data
    )


@applications.get(
    "/{application_id}/assessment",
    response_model=AssessmentRead,
    summary="The computed assessment: weighted total, mandatory check, suggested level",
)
async def get_assessment(
    application_id: UUID, session: SessionDep, principal: Reviewer
) -> AssessmentRead:
    return await service.get_assessment(
        session=session, principal=principal, application_id=application_id
    )


@applications.post(
    "/{application_id}/decision",
    response_model=ApplicationRead,
    summary="Decide: granted (with level; issues a certificate), conditional, refused (operator)",
)
async def decide_application(
    application_id: UUID,
    data: DecisionCreate,
    session: SessionDep,
    principal: OperatorPrincipal,
    signer: Signer,
    settings: Settings,
    response: Response,
) -> ApplicationRead:
    decided, version = await service.decide_application(
        session=session,
        principal=principal,
        application_id=application_id,
        data=data,
        signer=signer,
        issuer=settings.certificate_issuer,
        prefix=settings.certificate_number_prefix,
        validity_years=settings.certificate_validity_years,
    )
    _tag(response, decided.id, version)
    return decided


# -- certificates --------------------------------------------------------------------

certificates = APIRouter(prefix="/certificates", tags=["accreditation: certificates"])


@certificates.get(
    "", response_model=CertificatePage, summary="Certificates (public; e.g. ?status=active)"
)
async def list_certificates(
    session: SessionDep,
    signer: Signer,
    status_: Annotated[CertificateStatus | None, Query(alias="status")] = None,
    park_id: UUID | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> CertificatePage:
    items, next_cursor = await service.list_certificates(
        session=session, signer=signer, status=status_, park_id=park_id, limit=limit, cursor=cursor
    )
    return CertificatePage(items=items, next_cursor=next_cursor)


@certificates.get(
    "/public-key",
    response_model=PublicKeyRead,
    summary="The Ed25519 public key that verifies certificates offline (PEM and JWK)",
)
async def get_public_key(signer: Signer, response: Response) -> PublicKeyRead:
    response.headers["Cache-Control"] = "public, max-age=3600"
    return PublicKeyRead(
        key_id=signer.key_id, public_key_pem=signer.public_pem(), jwk=signer.public_jwk()
    )


@certificates.get(
    "/{number}",
    response_model=CertificateRead,
    summary="Verify a certificate by its number (public; revoked or expired ones answer too)",
)
async def get_certificate(
    number: Number, session: SessionDep, signer: Signer, response: Response
) -> CertificateRead:
    document, cert = await service.get_certificate(session=session, number=number, signer=signer)
    _tag(response, cert.id, cert.version)
    return document


@certificates.patch(
    "/{number}",
    response_model=CertificateRead,
    summary="Correct the validity (operator; If-Match; re-signed)",
)
async def update_certificate(
    number: Number,
    data: CertificateUpdate,
    session: SessionDep,
    principal: OperatorPrincipal,
    signer: Signer,
    response: Response,
    if_match: IfMatch = None,
) -> CertificateRead:
    document, cert = await service.update_certificate(
        session=session,
        principal=principal,
        number=number,
        valid_until=data.valid_until,
        signer=signer,
        if_match=if_match,
    )
    _tag(response, cert.id, cert.version)
    return document


@certificates.get(
    "/{number}/history",
    response_model=StatusChangePage,
    summary="Every status change and correction: who, when, why (operator)",
)
async def certificate_history(
    number: Number, session: SessionDep, principal: OperatorPrincipal
) -> StatusChangePage:
    changes = await service.certificate_history(session=session, number=number)
    return StatusChangePage(items=[StatusChangeRead.model_validate(c) for c in changes])


async def _status_action(
    action: str,
    number: str,
    reason: str | None,
    session: SessionDep,
    principal: Principal,
    signer: CertificateSigner,
    response: Response,
    if_match: str | None,
) -> CertificateRead:
    document, cert = await service.change_certificate_status(
        session=session,
        principal=principal,
        number=number,
        action=action,
        reason=reason,
        signer=signer,
        if_match=if_match,
    )
    _tag(response, cert.id, cert.version)
    return document


@certificates.post(
    "/{number}/suspend", response_model=CertificateRead, summary="active → suspended (operator)"
)
async def suspend_certificate(
    number: Number,
    data: StatusReason,
    session: SessionDep,
    principal: OperatorPrincipal,
    signer: Signer,
    response: Response,
    if_match: IfMatch = None,
) -> CertificateRead:
    return await _status_action(
        "suspend", number, data.reason, session, principal, signer, response, if_match
    )


@certificates.post(
    "/{number}/reinstate", response_model=CertificateRead, summary="suspended → active (operator)"
)
async def reinstate_certificate(
    number: Number,
    data: OptionalReason,
    session: SessionDep,
    principal: OperatorPrincipal,
    signer: Signer,
    response: Response,
    if_match: IfMatch = None,
) -> CertificateRead:
    return await _status_action(
        "reinstate", number, data.reason, session, principal, signer, response, if_match
    )


@certificates.post(
    "/{number}/revoke",
    response_model=CertificateRead,
    summary="active | suspended → revoked (operator)",
)
async def revoke_certificate(
    number: Number,
    data: StatusReason,
    session: SessionDep,
    principal: OperatorPrincipal,
    signer: Signer,
    response: Response,
    if_match: IfMatch = None,
) -> CertificateRead:
    return await _status_action(
        "revoke", number, data.reason, session, principal, signer, response, if_match
    )


@certificates.post(
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
    report = await service.create_monitoring_report(
        session=session, principal=principal, number=number, data=data
    )
    response.headers["Location"] = f"/api/v1/certificates/{number}/monitoring-reports/{report.id}"
    return MonitoringReportRead.model_validate(report)


@certificates.get(
    "/{number}/monitoring-reports",
    response_model=MonitoringReportPage,
    summary="A certificate's monitoring reports (operator; the park's manager)",
)
async def list_monitoring_reports(
    number: Number,
    session: SessionDep,
    principal: OperatorOrManager,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> MonitoringReportPage:
    rows, next_cursor = await service.list_monitoring_reports(
        session=session, principal=principal, number=number, limit=limit, cursor=cursor
    )
    return MonitoringReportPage(
        items=[MonitoringReportRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@certificates.get(
    "/{number}/monitoring-reports/{report_id}",
    response_model=MonitoringReportRead,
    summary="One monitoring report (operator; the park's manager)",
)
async def get_monitoring_report(
    number: Number, report_id: UUID, session: SessionDep, principal: OperatorOrManager
) -> MonitoringReportRead:
    report = await service.get_monitoring_report(
        session=session, principal=principal, number=number, report_id=report_id
    )
    return MonitoringReportRead.model_validate(report)


# -- parks ---------------------------------------------------------------------------

parks = APIRouter(prefix="/accreditation/parks", tags=["accreditation: parks"])


@parks.get(
    "",
    response_model=ParkAccreditationPage,
    summary="Parks and their accreditation (public; ?accredited=true lists accredited parks)",
)
async def list_park_accreditations(
    session: SessionDep,
    accredited: bool | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> ParkAccreditationPage:
    items, next_cursor = await service.list_park_accreditations(
        session=session, accredited=accredited, limit=limit, cursor=cursor
    )
    return ParkAccreditationPage(items=items, next_cursor=next_cursor)


@parks.get(
    "/{park_id}",
    response_model=ParkAccreditationRead,
    summary="A park's current accreditation (public)",
)
async def get_park_accreditation(park_id: UUID, session: SessionDep) -> ParkAccreditationRead:
    return await service.get_park_accreditation(session=session, park_id=park_id)


for sub in (catalogues, applications, certificates, parks):
    router.include_router(sub)

__all__ = ["router"]
