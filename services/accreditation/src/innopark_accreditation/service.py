"""Accreditation domain operations. They flush, never commit: the caller owns the transaction.

Object-level access lives here: an operator sees everything, a park manager only the
applications of their own park, an expert only the applications assigned to them; anything
else is "not found" so nobody learns what exists.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.errors import Conflict, InvalidTransition, NotFound, Unprocessable
from innopark_shared.http import check_if_match
from innopark_shared.pagination import keyset, page
from innopark_shared.readmodels.parks import get_known_park
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .events import publish_certificate
from .models import (
    Application,
    CatalogueVersion,
    Certificate,
    Criterion,
    ExpertAssignment,
    MonitoringReport,
    Score,
    StatusChange,
    certificate_number_seq,
    known_parks,
)
from .schemas import (
    AccreditationStatus,
    ApplicationCreate,
    ApplicationRead,
    ApplicationStatus,
    ApplicationUpdate,
    AssessmentRead,
    CatalogueCreate,
    CatalogueRead,
    CatalogueStatus,
    CertificateRead,
    CertificateStatus,
    CriterionRead,
    CriterionResult,
    DecisionCreate,
    DecisionRead,
    ExpertProgress,
    ExpertScore,
    HeadingRead,
    MonitoringReportCreate,
    Outcome,
    ParkAccreditationRead,
    ScoresSubmit,
    SelfAssessmentItem,
    SignatureRead,
)
from .signing import CertificateSigner

OPEN_STATUSES = (
    ApplicationStatus.DRAFT,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.UNDER_REVIEW,
)
LIVE_CERTIFICATE = (CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED)


def _field_error(field: str, message: str, location: str = "body") -> Unprocessable:
    return Unprocessable(
        f"Invalid input: {field}",
        errors=[
            {
                "field": field,
                "location": [location, *field.split(".")],
                "message": message,
                "type": "value_error",
            }
        ],
    )


def _now() -> datetime:
    return datetime.now(UTC)


# -- criteria catalogue --------------------------------------------------------------


async def _criteria(session: AsyncSession, catalogue_id: UUID) -> list[Criterion]:
    return list(
        (
            await session.scalars(
                sa.select(Criterion)
                .where(Criterion.catalogue_id == catalogue_id)
                .order_by(Criterion.position)
            )
        ).all()
    )


async def _catalogue_read(session: AsyncSession, catalogue: CatalogueVersion) -> CatalogueRead:
    headings: dict[str, list[CriterionRead]] = {}
    for c in await _criteria(session, catalogue.id):
        headings.setdefault(c.heading, []).append(
            CriterionRead(
                id=c.id,
                code=c.code,
                title=c.title,
                description=c.description,
                weight=c.weight,
                scale_min=c.scale_min,
                scale_max=c.scale_max,
                mandatory=c.mandatory,
                pass_score=c.pass_score,
            )
        )
    return CatalogueRead(
        id=catalogue.id,
        number=catalogue.number,
        title=catalogue.title,
        description=catalogue.description,
        status=CatalogueStatus(catalogue.status),
        levels=catalogue.levels,
        published_at=catalogue.published_at,
        created_at=catalogue.created_at,
        headings=[HeadingRead(title=t, criteria=cs) for t, cs in headings.items()],
    )


async def create_catalogue(
    *, session: AsyncSession, principal: Principal, data: CatalogueCreate
) -> tuple[CatalogueRead, int]:
    # One writer at a time picks the next number.
    await session.execute(
        sa.text("LOCK TABLE accreditation.catalogue_versions IN SHARE ROW EXCLUSIVE MODE")
    )
    number = (
        await session.scalar(sa.select(sa.func.coalesce(sa.func.max(CatalogueVersion.number), 0)))
    ) + 1
    catalogue = CatalogueVersion(
        id=uuid.uuid4(),
        number=number,
        title=data.title,
        description=data.description,
        status=CatalogueStatus.DRAFT,
        levels=dict(data.levels),
        version=1,
        created_at=_now(),
    )
    session.add(catalogue)
    await session.flush()
    position = 0
    for heading in data.headings:
        for c in heading.criteria:
            pass_score = (
                c.pass_score if c.pass_score is not None else -(-(c.scale_min + c.scale_max) // 2)
            )
            session.add(
                Criterion(
                    id=uuid.uuid4(),
                    catalogue_id=catalogue.id,
                    heading=heading.title,
                    position=position,
                    code=c.code,
                    title=c.title,
                    description=c.description,
                    weight=c.weight,
                    scale_min=c.scale_min,
                    scale_max=c.scale_max,
                    mandatory=c.mandatory,
                    pass_score=pass_score,
                )
            )
            position += 1
    await session.flush()
    return await _catalogue_read(session, catalogue), catalogue.version


async def _get_catalogue(
    session: AsyncSession, catalogue_id: UUID, principal: Principal | None
) -> CatalogueVersion:
    catalogue = await session.get(CatalogueVersion, catalogue_id)
    if catalogue is None or (
        catalogue.status == CatalogueStatus.DRAFT and not (principal and principal.is_operator)
    ):
        raise NotFound(f"Catalogue version {catalogue_id} not found")
    return catalogue


async def get_catalogue(
    *, session: AsyncSession, principal: Principal | None, catalogue_id: UUID
) -> tuple[CatalogueRead, int]:
    catalogue = await _get_catalogue(session, catalogue_id, principal)
    return await _catalogue_read(session, catalogue), catalogue.version


async def _current_catalogue(session: AsyncSession) -> CatalogueVersion | None:
    return await session.scalar(
        sa.select(CatalogueVersion)
        .where(CatalogueVersion.status == CatalogueStatus.PUBLISHED)
        .order_by(CatalogueVersion.number.desc())
        .limit(1)
    )


async def get_current_catalogue(*, session: AsyncSession) -> tuple[CatalogueRead, int]:
    catalogue = await _current_catalogue(session)
    if catalogue is None:
        raise NotFound("No criteria catalogue is published")
    return await _catalogue_read(session, catalogue), catalogue.version


async def list_catalogues(
    *, session: AsyncSession, principal: Principal | None, limit: int, cursor: str | None
) -> tuple[list[CatalogueRead], str | None]:
    stmt = sa.select(CatalogueVersion)
    if not (principal and principal.is_operator):
        stmt = stmt.where(CatalogueVersion.status != CatalogueStatus.DRAFT)
    rows = list(
        (
            await session.scalars(
                keyset(stmt, [CatalogueVersion.number], cursor, limit, descending=True)
            )
        ).all()
    )
    rows, next_cursor = page(rows, limit, lambda c: (c.number,))
    return [await _catalogue_read(session, c) for c in rows], next_cursor


async def publish_catalogue(
    *, session: AsyncSession, principal: Principal, catalogue_id: UUID
) -> tuple[CatalogueRead, int]:
    catalogue = await _get_catalogue(session, catalogue_id, principal)
    if catalogue.status != CatalogueStatus.DRAFT:
        raise InvalidTransition(
            f"Catalogue version {catalogue.number} is {catalogue.status}, not a draft"
        )
    # Applications already open keep the version they pinned; new ones take this one.
    await session.execute(
        sa.update(CatalogueVersion)
        .where(CatalogueVersion.status == CatalogueStatus.PUBLISHED)
        .values(status=CatalogueStatus.RETIRED, version=CatalogueVersion.version + 1)
    )
    catalogue.status = CatalogueStatus.PUBLISHED
    catalogue.published_at = _now()
    catalogue.version += 1
    await session.flush()
    return await _catalogue_read(session, catalogue), catalogue.version


# -- applications --------------------------------------------------------------------


def _can_see_application(principal: Principal, app: Application, experts: list[str]) -> bool:
    if principal.is_operator:
        return True
    if principal.role is Role.PARK_MANAGER:
        return principal.park_id == app.park_id
    if principal.role is Role.EXPERT:
        return principal.subject in experts
    return False


async def _experts(session: AsyncSession, application_id: UUID) -> list[str]:
    return list(
        (
            await session.scalars(
                sa.select(ExpertAssignment.expert_id)
                .where(ExpertAssignment.application_id == application_id)
                .order_by(ExpertAssignment.assigned_at, ExpertAssignment.expert_id)
            )
        ).all()
    )


async def _load_application(
    session: AsyncSession, principal: Principal, application_id: UUID, *, for_update: bool = False
) -> tuple[Application, list[str]]:
    stmt = sa.select(Application).where(Application.id == application_id)
    if for_update:
        stmt = stmt.with_for_update()
    app = await session.scalar(stmt)
    experts = await _experts(session, application_id) if app else []
    if app is None or not _can_see_application(principal, app, experts):
        raise NotFound(f"Application {application_id} not found")
    return app, experts


async def _application_read(
    session: AsyncSession, app: Application, experts: list[str]
) -> ApplicationRead:
    return (await _application_reads(session, [app], {app.id: experts}))[0]


async def _application_reads(
    session: AsyncSession, apps: list[Application], experts: dict[UUID, list[str]] | None = None
) -> list[ApplicationRead]:
    """Applications as read models, with what they show of other tables fetched in one query
    per table (not per row)."""
    if not apps:
        return []
    ids = [a.id for a in apps]
    if experts is None:
        experts = defaultdict(list)
        for application_id, expert_id in await session.execute(
            sa.select(ExpertAssignment.application_id, ExpertAssignment.expert_id)
            .where(ExpertAssignment.application_id.in_(ids))
            .order_by(ExpertAssignment.assigned_at, ExpertAssignment.expert_id)
        ):
            experts[application_id].append(expert_id)
    park_names = dict(
        (
            await session.execute(
                sa.select(known_parks.c.park_id, known_parks.c.name).where(
                    known_parks.c.park_id.in_({a.park_id for a in apps})
                )
            )
        ).all()
    )
    catalogue_numbers = dict(
        (
            await session.execute(
                sa.select(CatalogueVersion.id, CatalogueVersion.number).where(
                    CatalogueVersion.id.in_({a.catalogue_id for a in apps})
                )
            )
        ).all()
    )
    certificate_ids = {a.certificate_id for a in apps if a.certificate_id}
    numbers = (
        dict(
            (
                await session.execute(
                    sa.select(Certificate.id, Certificate.number).where(
                        Certificate.id.in_(certificate_ids)
                    )
                )
            ).all()
        )
        if certificate_ids
        else {}
    )
    return [
        ApplicationRead(
            id=app.id,
            park_id=app.park_id,
            park_name=park_names.get(app.park_id, ""),
            catalogue_id=app.catalogue_id,
            catalogue_number=catalogue_numbers[app.catalogue_id],
            status=ApplicationStatus(app.status),
            summary=app.summary,
            self_assessment=[SelfAssessmentItem.model_validate(i) for i in app.self_assessment],
            experts=experts.get(app.id, []),
            created_by=app.created_by,
            created_at=app.created_at,
            submitted_at=app.submitted_at,
            review_started_at=app.review_started_at,
            decision=DecisionRead(
                outcome=Outcome(app.outcome),
                level=app.level,
                reasons=app.reasons or "",
                conditions=app.conditions,
                total=app.decided_total,
                decided_at=app.decided_at,
                decided_by=app.decided_by or "",
                certificate_number=numbers.get(app.certificate_id),
            )
            if app.outcome
            else None,
        )
        for app in apps
    ]


async def _check_self_assessment(
    session: AsyncSession, catalogue_id: UUID, items: list[SelfAssessmentItem]
) -> list[dict[str, Any]]:
    criteria = {c.id: c for c in await _criteria(session, catalogue_id)}
    seen: set[UUID] = set()
    for i, item in enumerate(items):
        criterion = criteria.get(item.criterion_id)
        if criterion is None:
            raise _field_error(
                f"self_assessment.{i}.criterion_id",
                "not a criterion of the application's catalogue",
            )
        if item.criterion_id in seen:
            raise _field_error(f"self_assessment.{i}.criterion_id", "criterion assessed twice")
        seen.add(item.criterion_id)
        if not criterion.scale_min <= item.score <= criterion.scale_max:
            raise _field_error(
                f"self_assessment.{i}.score",
                f"score must be between {criterion.scale_min} and {criterion.scale_max}",
            )
    return [item.model_dump(mode="json") for item in items]


async def create_application(
    *, session: AsyncSession, principal: Principal, data: ApplicationCreate
) -> tuple[ApplicationRead, int]:
    park_id = data.park_id or principal.park_id
    if park_id is None or not principal.manages_park(park_id):
        raise NotFound(f"Park {park_id} not found")
    park = await get_known_park(session, known_parks, park_id)
    if park is None or park.removed:
        raise NotFound(f"Park {park_id} is not known to accreditation yet")
    catalogue = await _current_catalogue(session)
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
        self_assessment=await _check_self_assessment(session, catalogue.id, data.self_assessment),
        created_by=principal.subject,
        created_at=_now(),
        updated_at=_now(),
        version=1,
    )
    session.add(app)
    await session.flush()
    return await _application_read(session, app, []), app.version


async def get_application(
    *, session: AsyncSession, principal: Principal, application_id: UUID
) -> tuple[ApplicationRead, int]:
    app, experts = await _load_application(session, principal, application_id)
    return await _application_read(session, app, experts), app.version


async def list_applications(
    *,
    session: AsyncSession,
    principal: Principal,
    status: ApplicationStatus | None,
    park_id: UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[ApplicationRead], str | None]:
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
    rows = list(
        (
            await session.scalars(
                keyset(
                    stmt, [Application.created_at, Application.id], cursor, limit, descending=True
                )
            )
        ).all()
    )
    rows, next_cursor = page(rows, limit, lambda a: (a.created_at, a.id))
    return await _application_reads(session, rows), next_cursor


def _require_status(app: Application, *allowed: ApplicationStatus, action: str) -> None:
    if app.status not in allowed:
        raise InvalidTransition(
            f"Cannot {action} an application that is {app.status}",
            current_status=app.status,
            allowed_from=[s.value for s in allowed],
        )


def _require_manager(principal: Principal, app: Application) -> None:
    if not principal.manages_park(app.park_id):
        raise NotFound(f"Application {app.id} not found")


async def update_application(
    *,
    session: AsyncSession,
    principal: Principal,
    application_id: UUID,
    data: ApplicationUpdate,
    if_match: str | None,
) -> tuple[ApplicationRead, int]:
    app, experts = await _load_application(session, principal, application_id, for_update=True)
    _require_manager(principal, app)
    check_if_match(if_match, app.id, app.version)
    _require_status(app, ApplicationStatus.DRAFT, action="edit")
    fields = data.model_fields_set
    if "summary" in fields:
        app.summary = data.summary
    if "self_assessment" in fields and data.self_assessment is not None:
        app.self_assessment = await _check_self_assessment(
            session, app.catalogue_id, data.self_assessment
        )
    app.version += 1
    app.updated_at = _now()
    await session.flush()
    return await _application_read(session, app, experts), app.version


async def submit_application(
    *, session: AsyncSession, principal: Principal, application_id: UUID
) -> tuple[ApplicationRead, int]:
    app, experts = await _load_application(session, principal, application_id, for_update=True)
    _require_manager(principal, app)
    _require_status(app, ApplicationStatus.DRAFT, action="submit")
    assessed = {UUID(str(i["criterion_id"])) for i in app.self_assessment}
    missing = [c.code for c in await _criteria(session, app.catalogue_id) if c.id not in assessed]
    if missing:
        raise Unprocessable(
            "The self-assessment must cover every criterion before submission",
            errors=[
                {
                    "field": "self_assessment",
                    "location": ["body", "self_assessment"],
                    "message": f"criteria not assessed: {', '.join(missing)}",
                    "type": "missing",
                }
            ],
            missing_criteria=missing,
        )
    app.status = ApplicationStatus.SUBMITTED
    app.submitted_at = _now()
    app.version += 1
    await session.flush()
    return await _application_read(session, app, experts), app.version


async def withdraw_application(
    *, session: AsyncSession, principal: Principal, application_id: UUID
) -> tuple[ApplicationRead, int]:
    app, experts = await _load_application(session, principal, application_id, for_update=True)
    _require_manager(principal, app)
    _require_status(app, ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, action="withdraw")
    app.status = ApplicationStatus.WITHDRAWN
    app.version += 1
    await session.flush()
    return await _application_read(session, app, experts), app.version


async def assign_expert(
    *, session: AsyncSession, principal: Principal, application_id: UUID, expert_id: str
) -> tuple[ApplicationRead, int]:
    app, experts = await _load_application(session, principal, application_id, for_update=True)
    _require_status(
        app,
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.UNDER_REVIEW,
        action="assign an expert to",
    )
    if expert_id not in experts:
        session.add(
            ExpertAssignment(
                application_id=app.id,
                expert_id=expert_id,
                assigned_by=principal.subject,
                assigned_at=_now(),
            )
        )
        experts.append(expert_id)
    if app.status == ApplicationStatus.SUBMITTED:
        # The first assignment opens the review.
        app.status = ApplicationStatus.UNDER_REVIEW
        app.review_started_at = _now()
    app.version += 1
    await session.flush()
    return await _application_read(session, app, experts), app.version


async def unassign_expert(
    *, session: AsyncSession, principal: Principal, application_id: UUID, expert_id: str
) -> None:
    app, experts = await _load_application(session, principal, application_id, for_update=True)
    _require_status(app, ApplicationStatus.UNDER_REVIEW, action="unassign an expert from")
    if expert_id not in experts:
        raise NotFound(f"Expert {expert_id} is not assigned to application {application_id}")
    await session.execute(
        sa.delete(Score).where(Score.application_id == app.id, Score.expert_id == expert_id)
    )
    await session.execute(
        sa.delete(ExpertAssignment).where(
            ExpertAssignment.application_id == app.id, ExpertAssignment.expert_id == expert_id
        )
    )
    app.version += 1
    await session.flush()


# -- expert assessment ---------------------------------------------------------------


async def submit_scores(
    *, session: AsyncSession, principal: Principal, application_id: UUID, data: ScoresSubmit
) -> AssessmentRead:
    app, experts = await _load_application(session, principal, application_id, for_update=True)
    if principal.subject not in experts:  # operators see it but only assigned experts score
        raise NotFound(f"Application {application_id} not found")
    _require_status(app, ApplicationStatus.UNDER_REVIEW, action="score")
    criteria = {c.id: c for c in await _criteria(session, app.catalogue_id)}
    seen: set[UUID] = set()
    for i, item in enumerate(data.scores):
        criterion = criteria.get(item.criterion_id)
        if criterion is None:
            raise _field_error(
                f"scores.{i}.criterion_id", "not a criterion of the application's catalogue"
            )
        if item.criterion_id in seen:
            raise _field_error(f"scores.{i}.criterion_id", "criterion scored twice in one request")
        seen.add(item.criterion_id)
        if not criterion.scale_min <= item.score <= criterion.scale_max:
            raise _field_error(
                f"scores.{i}.score",
                f"score must be between {criterion.scale_min} and {criterion.scale_max}"
                f" for {criterion.code}",
            )

    for item in data.scores:
        stmt = pg_insert(Score).values(
            application_id=app.id,
            expert_id=principal.subject,
            criterion_id=item.criterion_id,
            score=item.score,
            comment=item.comment,
            scored_at=_now(),
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["application_id", "expert_id", "criterion_id"],
                set_={
                    "score": stmt.excluded.score,
                    "comment": stmt.excluded.comment,
                    "scored_at": stmt.excluded.scored_at,
                },
            )
        )
    app.version += 1
    await session.flush()
    return await _assessment(session, app, experts, viewer=principal)


async def get_assessment(
    *, session: AsyncSession, principal: Principal, application_id: UUID
) -> AssessmentRead:
    app, experts = await _load_application(session, principal, application_id)
    if principal.role is Role.PARK_MANAGER and app.status != ApplicationStatus.DECIDED:
        raise NotFound("The assessment is shown to the park once the application is decided")
    return await _assessment(session, app, experts, viewer=principal)


async def _assessment(
    session: AsyncSession, app: Application, experts: list[str], *, viewer: Principal
) -> AssessmentRead:
    """The computed assessment: mean score per criterion over the assigned experts, the
    weighted total on 0..100, the mandatory-criteria check and the level it suggests."""
    criteria = await _criteria(session, app.catalogue_id)
    catalogue = await session.get(CatalogueVersion, app.catalogue_id)
    scores = (
        await session.scalars(
            sa.select(Score).where(
                Score.application_id == app.id, Score.expert_id.in_(experts or [""])
            )
        )
    ).all()
    by_criterion: dict[UUID, list[Score]] = defaultdict(list)
    for s in scores:
        by_criterion[s.criterion_id].append(s)
    # An expert sees the others' scores only once the review is over (independent scoring).
    hide_others = viewer.role is Role.EXPERT and app.status == ApplicationStatus.UNDER_REVIEW

    results, weighted, weights = [], 0.0, 0.0
    mandatory_met = True
    for c in criteria:
        given = by_criterion.get(c.id, [])
        mean = sum(s.score for s in given) / len(given) if given else None
        normalized = (
            (mean - c.scale_min) / (c.scale_max - c.scale_min) if mean is not None else None
        )
        met = None
        if c.mandatory:
            met = mean is not None and mean >= c.pass_score
            mandatory_met = mandatory_met and met
        if normalized is not None:
            weighted += c.weight * normalized
            weights += c.weight
        visible = [s for s in given if not hide_others or s.expert_id == viewer.subject]
        results.append(
            CriterionResult(
                criterion_id=c.id,
                code=c.code,
                heading=c.heading,
                title=c.title,
                weight=c.weight,
                mandatory=c.mandatory,
                scale_min=c.scale_min,
                scale_max=c.scale_max,
                pass_score=c.pass_score,
                mean_score=None if hide_others else mean,
                normalized=None if hide_others or normalized is None else round(normalized, 4),
                met=None if hide_others else met,
                scores=[
                    ExpertScore(
                        expert_id=s.expert_id,
                        score=s.score,
                        comment=s.comment,
                        scored_at=s.scored_at,
                    )
                    for s in sorted(visible, key=lambda s: s.expert_id)
                ],
            )
        )
    progress = [
        ExpertProgress(
            expert_id=e, scored=sum(1 for s in scores if s.expert_id == e), of=len(criteria)
        )
        for e in experts
    ]
    complete = bool(experts) and all(p.scored == len(criteria) for p in progress)
    total = round(100 * weighted / weights, 2) if weights else None
    suggested = None
    if complete and mandatory_met and total is not None:
        eligible = [(t, name) for name, t in catalogue.levels.items() if total >= t]
        suggested = max(eligible)[1] if eligible else None
    return AssessmentRead(
        application_id=app.id,
        catalogue_id=app.catalogue_id,
        complete=complete,
        total=None if hide_others else total,
        mandatory_met=False if hide_others else mandatory_met,
        suggested_level=None if hide_others else suggested,
        experts=progress,
        criteria=results,
    )


# -- decisions and certificates ------------------------------------------------------


async def decide_application(
    *,
    session: AsyncSession,
    principal: Principal,
    application_id: UUID,
    data: DecisionCreate,
    signer: CertificateSigner,
    issuer: str,
    prefix: str,
    validity_years: int,
) -> tuple[ApplicationRead, int]:
    app, experts = await _load_application(session, principal, application_id, for_update=True)
    _require_status(app, ApplicationStatus.UNDER_REVIEW, action="decide")
    assessment = await _assessment(session, app, experts, viewer=principal)
    if data.outcome is not Outcome.REFUSED:
        if not assessment.complete:
            raise InvalidTransition(
                "Every assigned expert must score every criterion before a grant",
                experts=[p.model_dump() for p in assessment.experts],
            )
        if data.outcome is Outcome.GRANTED and not assessment.mandatory_met:
            raise InvalidTransition(
                "Mandatory criteria are not met; the application can be refused or made"
                " conditional",
                unmet=[r.code for r in assessment.criteria if r.met is False],
            )
    catalogue = await session.get(CatalogueVersion, app.catalogue_id)
    if data.outcome is Outcome.GRANTED and data.level not in catalogue.levels:
        raise _field_error("level", f"level must be one of: {', '.join(catalogue.levels)}")
    now = _now()
    app.status = ApplicationStatus.DECIDED
    app.outcome = data.outcome
    app.level = data.level
    app.reasons = data.reasons
    app.conditions = data.conditions
    app.decided_at = now
    app.decided_by = principal.subject
    app.decided_total = assessment.total
    app.version += 1
    if data.outcome is Outcome.GRANTED:
        cert = await _issue_certificate(
            session,
            app,
            level=data.level,
            valid_until=data.valid_until,
            signer=signer,
            issuer=issuer,
            prefix=prefix,
            validity_years=validity_years,
            actor=principal.subject,
        )
        app.certificate_id = cert.id
    await session.flush()
    return await _application_read(session, app, experts), app.version


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


async def _issue_certificate(
    session: AsyncSession,
    app: Application,
    *,
    level: str | None,
    valid_until: date | None,
    signer: CertificateSigner,
    issuer: str,
    prefix: str,
    validity_years: int,
    actor: str,
) -> Certificate:
    park = await get_known_park(session, known_parks, app.park_id)
    if park is None or park.removed:
        raise Conflict(f"Park {app.park_id} is no longer in the registry")
    today = _now().date()
    previous = await session.scalar(
        sa.select(Certificate)
        .where(Certificate.park_id == app.park_id)
        .order_by(Certificate.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    seq = await session.scalar(sa.select(certificate_number_seq.next_value()))
    cert = Certificate(
        id=uuid.uuid4(),
        number=f"{prefix}-{today.year}-{seq:04d}",
        park_id=app.park_id,
        park_name=park.name,
        level=level,
        issued_on=today,
        valid_until=valid_until or (_add_years(today, validity_years) - timedelta(days=1)),
        status=CertificateStatus.ACTIVE,
        status_reason=None,
        status_changed_at=_now(),
        application_id=app.id,
        previous_certificate_id=previous.id if previous else None,
        previous_number=previous.number if previous else None,
        issuer=issuer,
        key_id=signer.key_id,
        signature="",
        created_at=_now(),
        version=1,
    )
    cert.signature = signer.sign(certificate_content(cert))
    session.add(cert)
    await session.flush()
    session.add(
        StatusChange(
            certificate_id=cert.id,
            from_status=None,
            to_status=cert.status,
            reason="granted",
            actor=actor,
            at=_now(),
        )
    )
    if previous is not None and previous.status in LIVE_CERTIFICATE:
        # Re-accreditation supersedes the live certificate; only the new one is announced.
        await _change_status(
            session,
            previous,
            CertificateStatus.EXPIRED,
            reason=f"superseded by {cert.number}",
            actor=actor,
            publish=None,
        )
    await publish_certificate(
        session,
        cert,
        "renewed" if previous else "granted",
        previous_id=previous.id if previous else None,
    )
    return cert


# Fields whose values the issuance signature covers, in the public document's names.
SIGNED_FIELDS = [
    "certificate_id",
    "issued_on",
    "issuer",
    "level",
    "number",
    "park_id",
    "park_name",
    "previous_number",
    "valid_until",
]
STATUS_SIGNED_FIELDS = ["checked_at", "number", "status", "status_changed_at", "status_reason"]


def certificate_content(cert: Certificate) -> dict[str, Any]:
    """The immutable issued content: what `signature` signs. A status change is not a
    re-issue, so the status is signed separately (see `certificate_document`)."""
    return {
        "certificate_id": str(cert.id),
        "issued_on": cert.issued_on.isoformat(),
        "issuer": cert.issuer,
        "level": cert.level,
        "number": cert.number,
        "park_id": str(cert.park_id),
        "park_name": cert.park_name,
        "previous_number": cert.previous_number,
        "valid_until": cert.valid_until.isoformat(),
    }


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def certificate_document(cert: Certificate, signer: CertificateSigner) -> CertificateRead:
    content = certificate_content(cert)
    status = {
        "checked_at": _timestamp(_now()),
        "number": cert.number,
        "status": cert.status,
        "status_changed_at": _timestamp(cert.status_changed_at),
        "status_reason": cert.status_reason,
    }
    return CertificateRead(
        **content,
        **{k: v for k, v in status.items() if k != "number"},
        signature=SignatureRead(kid=cert.key_id, signed_fields=SIGNED_FIELDS, value=cert.signature),
        status_signature=SignatureRead(
            kid=signer.key_id, signed_fields=STATUS_SIGNED_FIELDS, value=signer.sign(status)
        ),
    )


async def _get_certificate(
    session: AsyncSession, number: str, *, for_update: bool = False
) -> Certificate:
    stmt = sa.select(Certificate).where(Certificate.number == number)
    if for_update:
        stmt = stmt.with_for_update()
    cert = await session.scalar(stmt)
    if cert is None:
        raise NotFound(f"Certificate {number} not found")
    return cert


async def get_certificate(
    *, session: AsyncSession, number: str, signer: CertificateSigner
) -> tuple[CertificateRead, Certificate]:
    cert = await _get_certificate(session, number)
    return certificate_document(cert, signer), cert


async def list_certificates(
    *,
    session: AsyncSession,
    signer: CertificateSigner,
    status: CertificateStatus | None,
    park_id: UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[CertificateRead], str | None]:
    stmt = sa.select(Certificate)
    if status:
        stmt = stmt.where(Certificate.status == status)
    if park_id:
        stmt = stmt.where(Certificate.park_id == park_id)
    rows = list(
        (
            await session.scalars(
                keyset(
                    stmt, [Certificate.created_at, Certificate.id], cursor, limit, descending=True
                )
            )
        ).all()
    )
    rows, next_cursor = page(rows, limit, lambda c: (c.created_at, c.id))
    return [certificate_document(c, signer) for c in rows], next_cursor


async def _change_status(
    session: AsyncSession,
    cert: Certificate,
    to: CertificateStatus,
    *,
    reason: str | None,
    actor: str,
    publish: str | None,
) -> None:
    session.add(
        StatusChange(
            certificate_id=cert.id,
            from_status=cert.status,
            to_status=to,
            reason=reason,
            actor=actor,
            at=_now(),
        )
    )
    cert.status = to
    cert.status_reason = reason
    cert.status_changed_at = _now()
    cert.version += 1
    await session.flush()
    if publish:
        await publish_certificate(session, cert, publish)


_TRANSITIONS = {
    "suspend": ((CertificateStatus.ACTIVE,), CertificateStatus.SUSPENDED, "suspended"),
    "reinstate": ((CertificateStatus.SUSPENDED,), CertificateStatus.ACTIVE, "reinstated"),
    "revoke": (
        (CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED),
        CertificateStatus.REVOKED,
        "revoked",
    ),
}


async def change_certificate_status(
    *,
    session: AsyncSession,
    principal: Principal,
    number: str,
    action: str,
    reason: str | None,
    signer: CertificateSigner,
    if_match: str | None = None,
) -> tuple[CertificateRead, Certificate]:
    allowed, to, event = _TRANSITIONS[action]
    cert = await _get_certificate(session, number, for_update=True)
    check_if_match(if_match, cert.id, cert.version)
    if cert.status not in allowed:
        raise InvalidTransition(
            f"Cannot {action} a certificate that is {cert.status}",
            current_status=cert.status,
            allowed_from=[s.value for s in allowed],
        )
    if action == "reinstate" and cert.valid_until < _now().date():
        raise InvalidTransition("The certificate is past its valid-until date; it can only expire")
    await _change_status(session, cert, to, reason=reason, actor=principal.subject, publish=event)
    return certificate_document(cert, signer), cert


async def update_certificate(
    *,
    session: AsyncSession,
    principal: Principal,
    number: str,
    valid_until: date,
    signer: CertificateSigner,
    if_match: str | None,
) -> tuple[CertificateRead, Certificate]:
    cert = await _get_certificate(session, number, for_update=True)
    check_if_match(if_match, cert.id, cert.version)
    if cert.status not in LIVE_CERTIFICATE:
        raise InvalidTransition(
            f"A {cert.status} certificate cannot be changed", current_status=cert.status
        )
    # The validity is signed content: the certificate is re-signed (an operator's correction;
    # the expiry sweep applies a date in the past).
    cert.valid_until = valid_until
    cert.key_id = signer.key_id
    cert.signature = signer.sign(certificate_content(cert))
    cert.version += 1
    session.add(
        StatusChange(
            certificate_id=cert.id,
            from_status=cert.status,
            to_status=cert.status,
            reason=f"valid_until set to {valid_until.isoformat()}",
            actor=principal.subject,
            at=_now(),
        )
    )
    await session.flush()
    await publish_certificate(session, cert, "amended")
    return certificate_document(cert, signer), cert


async def certificate_history(*, session: AsyncSession, number: str) -> list[StatusChange]:
    cert = await _get_certificate(session, number)
    return list(
        (
            await session.scalars(
                sa.select(StatusChange)
                .where(StatusChange.certificate_id == cert.id)
                .order_by(StatusChange.id)
            )
        ).all()
    )


async def expire_due_certificates(*, session: AsyncSession, today: date, batch: int = 100) -> int:
    """Mark live certificates past their valid-until date expired and announce it. Replicas
    may sweep together: each row is claimed with SKIP LOCKED."""
    due = (
        await session.scalars(
            sa.select(Certificate)
            .where(Certificate.status.in_(LIVE_CERTIFICATE), Certificate.valid_until < today)
            .order_by(Certificate.valid_until)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for cert in due:
        await _change_status(
            session,
            cert,
            CertificateStatus.EXPIRED,
            reason=f"validity ended on {cert.valid_until.isoformat()}",
            actor="system",
            publish="expired",
        )
    return len(due)


# -- monitoring reports --------------------------------------------------------------


def _may_see_park_certificate(principal: Principal, cert: Certificate) -> bool:
    return principal.is_operator or principal.manages_park(cert.park_id)


async def create_monitoring_report(
    *, session: AsyncSession, principal: Principal, number: str, data: MonitoringReportCreate
) -> MonitoringReport:
    cert = await _get_certificate(session, number, for_update=True)
    if not principal.manages_park(cert.park_id):
        raise NotFound(f"Certificate {number} not found")
    if cert.status != CertificateStatus.ACTIVE:
        raise InvalidTransition(
            f"Monitoring reports are filed while the certificate is active, not {cert.status}"
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
        submitted_at=_now(),
        **data.model_dump(),
    )
    session.add(report)
    await session.flush()
    return report


async def get_monitoring_report(
    *, session: AsyncSession, principal: Principal, number: str, report_id: UUID
) -> MonitoringReport:
    cert = await _get_certificate(session, number)
    report = await session.get(MonitoringReport, report_id)
    if (
        report is None
        or report.certificate_id != cert.id
        or not _may_see_park_certificate(principal, cert)
    ):
        raise NotFound(f"Monitoring report {report_id} not found")
    return report


async def list_monitoring_reports(
    *, session: AsyncSession, principal: Principal, number: str, limit: int, cursor: str | None
) -> tuple[list[MonitoringReport], str | None]:
    cert = await _get_certificate(session, number)
    if not _may_see_park_certificate(principal, cert):
        raise NotFound(f"Certificate {number} not found")
    stmt = sa.select(MonitoringReport).where(MonitoringReport.certificate_id == cert.id)
    rows = list(
        (
            await session.scalars(
                keyset(
                    stmt,
                    [MonitoringReport.year, MonitoringReport.id],
                    cursor,
                    limit,
                    descending=True,
                )
            )
        ).all()
    )
    return page(rows, limit, lambda r: (r.year, r.id))


# -- parks ---------------------------------------------------------------------------

_PARK_STATUS = {
    CertificateStatus.ACTIVE: AccreditationStatus.ACCREDITED,
    CertificateStatus.SUSPENDED: AccreditationStatus.SUSPENDED,
    CertificateStatus.REVOKED: AccreditationStatus.REVOKED,
    CertificateStatus.EXPIRED: AccreditationStatus.EXPIRED,
}


def _latest_certificates() -> sa.Subquery:
    """Each park's most recent certificate (which decides its accreditation)."""
    return (
        sa.select(
            Certificate.park_id,
            Certificate.number,
            Certificate.status,
            Certificate.level,
            Certificate.valid_until,
        )
        .distinct(Certificate.park_id)
        .order_by(Certificate.park_id, Certificate.created_at.desc())
        .subquery("latest")
    )


def _park_read(row: Any) -> ParkAccreditationRead:
    if row.number is None:
        return ParkAccreditationRead(
            park_id=row.park_id, park_name=row.name, status=AccreditationStatus.NOT_ACCREDITED
        )
    return ParkAccreditationRead(
        park_id=row.park_id,
        park_name=row.name,
        status=_PARK_STATUS[CertificateStatus(row.status)],
        certificate_number=row.number,
        level=row.level,
        valid_until=row.valid_until,
    )


def _parks_query() -> tuple[sa.Select, sa.Subquery]:
    latest = _latest_certificates()
    return (
        sa.select(
            known_parks.c.park_id,
            known_parks.c.name,
            latest.c.number,
            latest.c.status,
            latest.c.level,
            latest.c.valid_until,
        )
        .select_from(known_parks.outerjoin(latest, latest.c.park_id == known_parks.c.park_id))
        .where(known_parks.c.removed.is_(False))
    ), latest


async def get_park_accreditation(*, session: AsyncSession, park_id: UUID) -> ParkAccreditationRead:
    stmt, _ = _parks_query()
    row = (await session.execute(stmt.where(known_parks.c.park_id == park_id))).first()
    if row is None:
        raise NotFound(f"Park {park_id} is not known to accreditation")
    return _park_read(row)


async def list_park_accreditations(
    *, session: AsyncSession, accredited: bool | None, limit: int, cursor: str | None
) -> tuple[list[ParkAccreditationRead], str | None]:
    stmt, latest = _parks_query()
    if accredited is True:
        stmt = stmt.where(latest.c.status == CertificateStatus.ACTIVE)
    elif accredited is False:
        stmt = stmt.where(
            sa.or_(latest.c.status.is_(None), latest.c.status != CertificateStatus.ACTIVE)
        )
    rows = list(
        (
            await session.execute(
                keyset(stmt, [known_parks.c.name, known_parks.c.park_id], cursor, limit)
            )
        ).all()
    )
    rows, next_cursor = page(rows, limit, lambda r: (r.name, r.park_id))
    return [_park_read(r) for r in rows], next_cursor
