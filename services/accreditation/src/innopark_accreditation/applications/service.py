"""Applications: a park manager opens one for their park, edits the draft, submits or
withdraws it; the first expert assignment starts the review, and the decision closes it
(`assessment.py` has the review itself and the checks a decision needs). They flush, never
commit: the caller owns the transaction.

    draft ──submit──▶ submitted ──start_review──▶ under_review ──decide──▶ decided
    draft | submitted ──withdraw──▶ withdrawn

Access: an operator sees everything, a park manager only their own park's applications, an
expert only those assigned to them; anything else is "not found" so nobody learns what
exists.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.errors import Conflict, InvalidTransition, NotFound, Unprocessable
from innopark_shared.http import check_if_match
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..catalogue.service import criteria_of, current_catalogue
from ..models import Application, ApplicationStatusChange, ExpertAssignment, known_parks
from ..parks.service import known_park
from .queries import experts_of
from .schemas import (
    ApplicationAction,
    ApplicationCreate,
    ApplicationStatus,
    ApplicationUpdate,
    Outcome,
    SelfAssessmentItem,
)

OPEN_STATUSES = (
    ApplicationStatus.DRAFT,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.UNDER_REVIEW,
)

# The statuses each action is allowed from.
ALLOWED_FROM: dict[ApplicationAction, tuple[ApplicationStatus, ...]] = {
    ApplicationAction.EDIT: (ApplicationStatus.DRAFT,),
    ApplicationAction.SUBMIT: (ApplicationStatus.DRAFT,),
    ApplicationAction.WITHDRAW: (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED),
    ApplicationAction.ASSIGN_EXPERT: (ApplicationStatus.SUBMITTED, ApplicationStatus.UNDER_REVIEW),
    ApplicationAction.START_REVIEW: (ApplicationStatus.SUBMITTED,),
    ApplicationAction.UNASSIGN_EXPERT: (ApplicationStatus.UNDER_REVIEW,),
    ApplicationAction.SCORE: (ApplicationStatus.UNDER_REVIEW,),
    ApplicationAction.DECIDE: (ApplicationStatus.UNDER_REVIEW,),
}
_PHRASE = {
    ApplicationAction.ASSIGN_EXPERT: "assign an expert to",
    ApplicationAction.START_REVIEW: "start the review of",
    ApplicationAction.UNASSIGN_EXPERT: "unassign an expert from",
}


def now() -> datetime:
    return datetime.now(UTC)


# -- rules and history ---------------------------------------------------------------


def require_allowed(app: Application, action: ApplicationAction) -> None:
    allowed = ALLOWED_FROM[action]
    if app.status not in allowed:
        raise InvalidTransition(
            f"Cannot {_PHRASE.get(action, action)} an application that is {app.status}",
            current_status=app.status,
            allowed_from=[s.value for s in allowed],
        )


def record_history(
    session: AsyncSession,
    app: Application,
    action: ApplicationAction,
    *,
    from_status: str,
    actor: str,
    detail: str | None = None,
) -> None:
    session.add(
        ApplicationStatusChange(
            application_id=app.id,
            action=action,
            from_status=from_status,
            to_status=app.status,
            detail=detail,
            actor=actor,
            at=now(),
        )
    )


async def _move(
    session: AsyncSession,
    app: Application,
    action: ApplicationAction,
    to: ApplicationStatus,
    *,
    actor: str,
    detail: str | None = None,
) -> Application:
    require_allowed(app, action)
    from_status = app.status
    app.status = to
    app.updated_at = now()
    record_history(session, app, action, from_status=from_status, actor=actor, detail=detail)
    await session.flush()
    return app


# -- access --------------------------------------------------------------------------


def _can_see(principal: Principal, app: Application, experts: list[str]) -> bool:
    if principal.is_operator:
        return True
    if principal.role is Role.PARK_MANAGER:
        return principal.park_id == app.park_id
    if principal.role is Role.EXPERT:
        return principal.subject in experts
    return False


async def load_application(
    session: AsyncSession, principal: Principal, application_id: UUID, *, for_update: bool = False
) -> tuple[Application, list[str]]:
    """The application and its experts, if `principal` may see it (locked for a change:
    concurrent changes of one application queue rather than interleave)."""
    stmt = sa.select(Application).where(Application.id == application_id)
    if for_update:
        stmt = stmt.with_for_update()
    app = await session.scalar(stmt)
    experts = await experts_of(session, application_id) if app else []
    if app is None or not _can_see(principal, app, experts):
        raise NotFound(f"Application {application_id} not found")
    return app, experts


def _require_manager(principal: Principal, app: Application) -> None:
    if not principal.manages_park(app.park_id):
        raise NotFound(f"Application {app.id} not found")


# -- the draft -----------------------------------------------------------------------


async def _checked_self_assessment(
    session: AsyncSession, catalogue_id: UUID, items: list[SelfAssessmentItem]
) -> list[dict[str, Any]]:
    criteria = {c.id: c for c in await criteria_of(session, catalogue_id)}
    seen: set[UUID] = set()
    for i, item in enumerate(items):
        criterion = criteria.get(item.criterion_id)
        if criterion is None:
            raise Unprocessable.for_field(
                f"self_assessment.{i}.criterion_id",
                "not a criterion of the application's catalogue",
            )
        if item.criterion_id in seen:
            raise Unprocessable.for_field(
                f"self_assessment.{i}.criterion_id", "criterion assessed twice"
            )
        seen.add(item.criterion_id)
        if not criterion.scale_min <= item.score <= criterion.scale_max:
            raise Unprocessable.for_field(
                f"self_assessment.{i}.score",
                f"score must be between {criterion.scale_min} and {criterion.scale_max}",
            )
    return [item.model_dump(mode="json") for item in items]


async def create_application(
    *, session: AsyncSession, principal: Principal, data: ApplicationCreate
) -> Application:
    park_id = data.park_id or principal.park_id
    if park_id is None or not principal.manages_park(park_id):
        raise NotFound(f"Park {park_id} not found")
    if await known_park(session, park_id) is None:
        raise NotFound(f"Park {park_id} is not known to accreditation yet")
    catalogue = await current_catalogue(session)
    if catalogue is None:
        raise Conflict("No criteria catalogue is published; applications cannot open")
    # One open application per park: serialise on the park's read-model row.
    await session.execute(
        sa.select(known_parks.c.park_id).where(known_parks.c.park_id == park_id).with_for_update()
    )
    open_app = await session.scalar(
        sa.select(Application.id).where(
            Application.park_id == park_id, Application.status.in_(OPEN_STATUSES)
        )
    )
    if open_app is not None:
        raise Conflict("The park already has an open application", application_id=str(open_app))
    app = Application(
        id=uuid.uuid4(),
        park_id=park_id,
        catalogue_id=catalogue.id,
        status=ApplicationStatus.DRAFT,
        summary=data.summary,
        self_assessment=await _checked_self_assessment(session, catalogue.id, data.self_assessment),
        created_by=principal.subject,
        created_at=now(),
        updated_at=now(),
    )
    session.add(app)
    await session.flush()
    return app


async def get_application(
    *, session: AsyncSession, principal: Principal, application_id: UUID
) -> Application:
    app, _ = await load_application(session, principal, application_id)
    return app


async def list_applications(
    *,
    session: AsyncSession,
    principal: Principal,
    status: ApplicationStatus | None,
    park_id: UUID | None,
    limit: int,
    cursor: str | None,
) -> Slice[Application]:
    stmt = sa.select(Application)
    if principal.role is Role.PARK_MANAGER:
        stmt = stmt.where(Application.park_id == principal.park_id)
    elif principal.role is Role.EXPERT:
        stmt = stmt.where(
            Application.id.in_(
                sa.select(ExpertAssignment.application_id).where(
                    ExpertAssignment.expert_id == principal.subject
                )
            )
        )
    if status:
        stmt = stmt.where(Application.status == status)
    if park_id:
        stmt = stmt.where(Application.park_id == park_id)
    return await paginate(
        session,
        stmt,
        order_by=[Application.created_at, Application.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


async def update_application(
    *,
    session: AsyncSession,
    principal: Principal,
    application_id: UUID,
    data: ApplicationUpdate,
    if_match: str | None,
) -> Application:
    app, _ = await load_application(session, principal, application_id, for_update=True)
    _require_manager(principal, app)
    check_if_match(if_match, app.id, app.version)
    require_allowed(app, ApplicationAction.EDIT)
    changes = data.changes()
    if "summary" in changes:
        app.summary = data.summary
    if "self_assessment" in changes and data.self_assessment is not None:
        app.self_assessment = await _checked_self_assessment(
            session, app.catalogue_id, data.self_assessment
        )
    app.updated_at = now()
    await session.flush()
    return app


# -- transitions ---------------------------------------------------------------------


async def submit_application(
    *, session: AsyncSession, principal: Principal, application_id: UUID
) -> Application:
    app, _ = await load_application(session, principal, application_id, for_update=True)
    _require_manager(principal, app)
    require_allowed(app, ApplicationAction.SUBMIT)
    assessed = {UUID(str(i["criterion_id"])) for i in app.self_assessment}
    missing = [c.code for c in await criteria_of(session, app.catalogue_id) if c.id not in assessed]
    if missing:
        raise Unprocessable.for_field(
            "self_assessment",
            f"criteria not assessed: {', '.join(missing)}",
            kind="missing",
            detail="The self-assessment must cover every criterion before submission",
            missing_criteria=missing,
        )
    app.submitted_at = now()
    return await _move(
        session,
        app,
        ApplicationAction.SUBMIT,
        ApplicationStatus.SUBMITTED,
        actor=principal.subject,
    )


async def withdraw_application(
    *, session: AsyncSession, principal: Principal, application_id: UUID
) -> Application:
    app, _ = await load_application(session, principal, application_id, for_update=True)
    _require_manager(principal, app)
    return await _move(
        session,
        app,
        ApplicationAction.WITHDRAW,
        ApplicationStatus.WITHDRAWN,
        actor=principal.subject,
    )


async def start_review(session: AsyncSession, app: Application, *, actor: str) -> Application:
    """submitted → under_review: the first expert assignment opens the review."""
    app.review_started_at = now()
    return await _move(
        session, app, ApplicationAction.START_REVIEW, ApplicationStatus.UNDER_REVIEW, actor=actor
    )


async def record_decision(
    session: AsyncSession,
    app: Application,
    *,
    outcome: Outcome,
    level: str | None,
    reasons: str,
    conditions: str | None,
    total: float | None,
    actor: str,
) -> Application:
    """under_review → decided, with the decision (`assessment.decide_application` checks
    it against the assessment and issues the certificate of a grant)."""
    require_allowed(app, ApplicationAction.DECIDE)
    app.outcome = outcome
    app.level = level
    app.reasons = reasons
    app.conditions = conditions
    app.decided_total = total
    app.decided_at = now()
    app.decided_by = actor
    return await _move(
        session,
        app,
        ApplicationAction.DECIDE,
        ApplicationStatus.DECIDED,
        actor=actor,
        detail=f"{outcome} ({level})" if level else outcome,
    )
