"""Application routes: `/api/v1/accreditation/applications` — the draft, its transitions,
expert assignment, scores, the computed assessment and the decision."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response, status
from innopark_shared.auth import OperatorPrincipal
from innopark_shared.db import SessionDep
from innopark_shared.pagination import CursorQuery, LimitQuery, Page
from sqlalchemy.ext.asyncio import AsyncSession

from ..certificates.signing import SignerDep
from ..config import SettingsDep
from ..deps import Expert, IfMatch, ParkManager, Reviewer, tag
from ..models import Application
from . import assessment, service
from .presenters import present_application, present_assessment
from .queries import application_facts
from .schemas import (
    ApplicationCreate,
    ApplicationRead,
    ApplicationStatus,
    ApplicationUpdate,
    AssessmentRead,
    DecisionCreate,
    ExpertAssign,
    ScoresSubmit,
)

router = APIRouter(
    prefix="/api/v1/accreditation/applications", tags=["accreditation: applications"]
)


async def _answer(session: AsyncSession, response: Response, app: Application) -> ApplicationRead:
    tag(response, app.id, app.version)
    return present_application(app, (await application_facts(session, [app]))[app.id])


@router.post(
    "",
    response_model=ApplicationRead,
    status_code=status.HTTP_201_CREATED,
    summary="Open an application for the caller's park (park manager)",
)
async def create_application(
    data: ApplicationCreate, session: SessionDep, principal: ParkManager, response: Response
) -> ApplicationRead:
    app = await service.create_application(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/accreditation/applications/{app.id}"
    return await _answer(session, response, app)


@router.get(
    "",
    response_model=Page[ApplicationRead],
    summary="Applications the caller may see (operator: all; manager: own park; expert: assigned)",
)
async def list_applications(
    session: SessionDep,
    principal: Reviewer,
    status_: Annotated[ApplicationStatus | None, Query(alias="status")] = None,
    park_id: UUID | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ApplicationRead]:
    found = await service.list_applications(
        session=session,
        principal=principal,
        status=status_,
        park_id=park_id,
        limit=limit,
        cursor=cursor,
    )
    facts = await application_facts(session, found.items)
    return found.present(lambda app: present_application(app, facts[app.id]))


@router.get("/{application_id}", response_model=ApplicationRead, summary="One application")
async def get_application(
    application_id: UUID, session: SessionDep, principal: Reviewer, response: Response
) -> ApplicationRead:
    app = await service.get_application(
        session=session, principal=principal, application_id=application_id
    )
    return await _answer(session, response, app)


@router.patch(
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
    app = await service.update_application(
        session=session,
        principal=principal,
        application_id=application_id,
        data=data,
        if_match=if_match,
    )
    return await _answer(session, response, app)


@router.post(
    "/{application_id}/submit",
    response_model=ApplicationRead,
    summary="draft → submitted (park manager; the self-assessment covers every criterion)",
)
async def submit_application(
    application_id: UUID, session: SessionDep, principal: ParkManager, response: Response
) -> ApplicationRead:
    app = await service.submit_application(
        session=session, principal=principal, application_id=application_id
    )
    return await _answer(session, response, app)


@router.post(
    "/{application_id}/withdraw",
    response_model=ApplicationRead,
    summary="draft | submitted → withdrawn (park manager)",
)
async def withdraw_application(
    application_id: UUID, session: SessionDep, principal: ParkManager, response: Response
) -> ApplicationRead:
    app = await service.withdraw_application(
        session=session, principal=principal, application_id=application_id
    )
    return await _answer(session, response, app)


@router.post(
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
    app = await assessment.assign_expert(
        session=session,
        principal=principal,
        application_id=application_id,
        expert_id=data.expert_id,
    )
    return await _answer(session, response, app)


@router.delete(
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
    await assessment.unassign_expert(
        session=session, principal=principal, application_id=application_id, expert_id=expert_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{application_id}/scores",
    response_model=AssessmentRead,
    summary="Score criteria with comments (assigned expert; within each criterion's scale)",
)
async def submit_scores(
    application_id: UUID, data: ScoresSubmit, session: SessionDep, principal: Expert
) -> AssessmentRead:
    computed = await assessment.submit_scores(
        session=session, principal=principal, application_id=application_id, data=data
    )
    return present_assessment(computed)


@router.get(
    "/{application_id}/assessment",
    response_model=AssessmentRead,
    summary="The computed assessment: weighted total, mandatory check, suggested level",
)
async def get_assessment(
    application_id: UUID, session: SessionDep, principal: Reviewer
) -> AssessmentRead:
    computed = await assessment.get_assessment(
        session=session, principal=principal, application_id=application_id
    )
    return present_assessment(computed)


@router.post(
    "/{application_id}/decision",
    response_model=ApplicationRead,
    summary="Decide: granted (with level; issues a certificate), conditional, refused (operator)",
)
async def decide_application(
    application_id: UUID,
    data: DecisionCreate,
    session: SessionDep,
    principal: OperatorPrincipal,
    signer: SignerDep,
    settings: SettingsDep,
    response: Response,
) -> ApplicationRead:
    app = await assessment.decide_application(
        session=session,
        principal=principal,
        application_id=application_id,
        data=data,
        signer=signer,
        issuer=settings.certificate_issuer,
        prefix=settings.certificate_number_prefix,
        validity_years=settings.certificate_validity_years,
    )
    return await _answer(session, response, app)
