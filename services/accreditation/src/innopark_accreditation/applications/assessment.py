"""Expert assessment and the decision. Operators assign experts; assigned experts score
each criterion (within its scale) with comments; the assessment is computed, never typed in:

- per criterion, the mean of the assigned experts' scores, normalised to 0..1 over its
  scale: (mean - scale_min) / (scale_max - scale_min);
- the total: the weight-weighted mean of the normalised scores × 100, rounded to 2 places,
  over the criteria scored so far;
- the mandatory check: every mandatory criterion's mean reaches its `pass_score` (an
  unscored mandatory criterion is not met);
- the suggested level: the highest level whose threshold the total reaches, once every
  assigned expert scored every criterion and the mandatory criteria are met.

A grant needs a complete assessment with the mandatory criteria met (else 409 listing the
unmet ones) and a level of the catalogue; a conditional decision needs a complete
assessment; a refusal can be taken at any point of the review.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.errors import Conflict, InvalidTransition, NotFound, Unprocessable
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..catalogue.service import criteria_of
from ..certificates.issuance import IssueTerms, grant_certificate
from ..certificates.signing import CertificateSigner
from ..models import Application, CatalogueVersion, Criterion, ExpertAssignment, Score
from ..parks.service import known_park
from .experts import check_assignable
from .notices import application_decided
from .schemas import ApplicationAction, ApplicationStatus, DecisionCreate, Outcome, ScoresSubmit
from .service import (
    load_application,
    now,
    record_decision,
    record_history,
    require_allowed,
    start_review,
)

# -- the computed assessment ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CriterionAssessment:
    criterion: Criterion
    scores: list[Score]  # by expert id
    mean: float | None  # None while nobody scored it
    normalized: float | None  # 0..1 over the criterion's scale
    met: bool | None  # mandatory criteria only: the mean reaches pass_score


@dataclass(frozen=True, slots=True)
class ExpertTally:
    expert_id: str
    scored: int
    of: int


@dataclass(frozen=True, slots=True)
class Assessment:
    application_id: UUID
    catalogue_id: UUID
    complete: bool  # every assigned expert scored every criterion
    total: float | None  # 0..100; None before any score
    mandatory_met: bool
    suggested_level: str | None
    experts: list[ExpertTally]
    criteria: list[CriterionAssessment]

    @property
    def unmet(self) -> list[str]:
        """Codes of the mandatory criteria not met."""
        return [c.criterion.code for c in self.criteria if c.met is False]


def level_for(total: float, levels: Mapping[str, float]) -> str | None:
    """The highest level whose threshold `total` reaches."""
    eligible = [(threshold, name) for name, threshold in levels.items() if total >= threshold]
    return max(eligible)[1] if eligible else None


def compute_assessment(
    *,
    application_id: UUID,
    catalogue_id: UUID,
    criteria: Sequence[Criterion],
    experts: Sequence[str],
    scores: Sequence[Score],
    levels: Mapping[str, float],
) -> Assessment:
    """The assessment from the scores of the assigned `experts` (others' are ignored)."""
    assigned = set(experts)
    by_criterion: dict[UUID, list[Score]] = defaultdict(list)
    for s in scores:
        if s.expert_id in assigned:
            by_criterion[s.criterion_id].append(s)
    results, weighted, weights, mandatory_met = [], 0.0, 0.0, True
    for c in criteria:
        given = sorted(by_criterion.get(c.id, []), key=lambda s: s.expert_id)
        mean = sum(s.score for s in given) / len(given) if given else None
        normalized = None if mean is None else (mean - c.scale_min) / (c.scale_max - c.scale_min)
        met = None
        if c.mandatory:
            met = mean is not None and mean >= c.pass_score
            mandatory_met = mandatory_met and met
        if normalized is not None:
            weighted += c.weight * normalized
            weights += c.weight
        results.append(CriterionAssessment(c, given, mean, normalized, met))
    tallies = [
        ExpertTally(e, sum(1 for r in results for s in r.scores if s.expert_id == e), len(criteria))
        for e in experts
    ]
    complete = bool(experts) and all(t.scored == len(criteria) for t in tallies)
    total = round(100 * weighted / weights, 2) if weights else None
    suggested = None
    if complete and mandatory_met and total is not None:
        suggested = level_for(total, levels)
    return Assessment(
        application_id=application_id,
        catalogue_id=catalogue_id,
        complete=complete,
        total=total,
        mandatory_met=mandatory_met,
        suggested_level=suggested,
        experts=tallies,
        criteria=results,
    )


def as_seen_by(assessment: Assessment, viewer: Principal, status: str) -> Assessment:
    """An expert sees the others' scores, and what they add up to, only once the review is
    over (independent scoring)."""
    if not (viewer.role is Role.EXPERT and status == ApplicationStatus.UNDER_REVIEW):
        return assessment
    own = [
        replace(
            c,
            scores=[s for s in c.scores if s.expert_id == viewer.subject],
            mean=None,
            normalized=None,
            met=None,
        )
        for c in assessment.criteria
    ]
    return replace(assessment, total=None, mandatory_met=False, suggested_level=None, criteria=own)


async def _assess(session: AsyncSession, app: Application, experts: list[str]) -> Assessment:
    catalogue = await session.get_one(CatalogueVersion, app.catalogue_id)
    # The scores are upserted in SQL: read them afresh, not from the session's identity map.
    scores = await session.scalars(
        sa.select(Score)
        .where(Score.application_id == app.id)
        .execution_options(populate_existing=True)
    )
    return compute_assessment(
        application_id=app.id,
        catalogue_id=app.catalogue_id,
        criteria=await criteria_of(session, app.catalogue_id),
        experts=experts,
        scores=list(scores),
        levels=catalogue.levels,
    )


async def get_assessment(
    *, session: AsyncSession, principal: Principal, application_id: UUID
) -> Assessment:
    app, experts = await load_application(session, principal, application_id)
    if principal.role is Role.PARK_MANAGER and app.status != ApplicationStatus.DECIDED:
        raise NotFound("The assessment is shown to the park once the application is decided")
    return as_seen_by(await _assess(session, app, experts), principal, app.status)


# -- experts and their scores --------------------------------------------------------


async def assign_expert(
    *, session: AsyncSession, principal: Principal, application_id: UUID, expert_id: str
) -> Application:
    app, experts = await load_application(session, principal, application_id, for_update=True)
    require_allowed(app, ApplicationAction.ASSIGN_EXPERT)
    if expert_id not in experts:
        # Only an active expert user: anyone else would never score, and block the grant.
        await check_assignable(session, expert_id)
        session.add(
            ExpertAssignment(
                application_id=app.id,
                expert_id=expert_id,
                assigned_by=principal.subject,
                assigned_at=now(),
            )
        )
        record_history(
            session,
            app,
            ApplicationAction.ASSIGN_EXPERT,
            from_status=app.status,
            actor=principal.subject,
            detail=expert_id,
        )
    app.updated_at = now()  # its experts are part of it: a new version
    if app.status == ApplicationStatus.SUBMITTED:
        return await start_review(session, app, actor=principal.subject)
    await session.flush()
    return app


async def unassign_expert(
    *, session: AsyncSession, principal: Principal, application_id: UUID, expert_id: str
) -> Application:
    """The expert loses access, and their scores are dropped."""
    app, experts = await load_application(session, principal, application_id, for_update=True)
    require_allowed(app, ApplicationAction.UNASSIGN_EXPERT)
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
    record_history(
        session,
        app,
        ApplicationAction.UNASSIGN_EXPERT,
        from_status=app.status,
        actor=principal.subject,
        detail=expert_id,
    )
    app.updated_at = now()
    await session.flush()
    return app


async def submit_scores(
    *, session: AsyncSession, principal: Principal, application_id: UUID, data: ScoresSubmit
) -> Assessment:
    """The expert's scores (replacing their earlier ones for the same criteria); answers
    the assessment as the expert may see it."""
    app, experts = await load_application(session, principal, application_id, for_update=True)
    if principal.subject not in experts:  # operators see it but only assigned experts score
        raise NotFound(f"Application {application_id} not found")
    require_allowed(app, ApplicationAction.SCORE)
    criteria = {c.id: c for c in await criteria_of(session, app.catalogue_id)}
    seen: set[UUID] = set()
    for i, item in enumerate(data.scores):
        criterion = criteria.get(item.criterion_id)
        if criterion is None:
            raise Unprocessable.for_field(
                f"scores.{i}.criterion_id", "not a criterion of the application's catalogue"
            )
        if item.criterion_id in seen:
            raise Unprocessable.for_field(
                f"scores.{i}.criterion_id", "criterion scored twice in one request"
            )
        seen.add(item.criterion_id)
        if not criterion.scale_min <= item.score <= criterion.scale_max:
            raise Unprocessable.for_field(
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
            scored_at=now(),
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
    app.updated_at = now()
    await session.flush()
    return as_seen_by(await _assess(session, app, experts), principal, app.status)


# -- the decision --------------------------------------------------------------------


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
) -> Application:
    app, experts = await load_application(session, principal, application_id, for_update=True)
    require_allowed(app, ApplicationAction.DECIDE)
    assessment = await _assess(session, app, experts)
    if data.outcome is not Outcome.REFUSED:
        if not assessment.complete:
            raise InvalidTransition(
                "Every assigned expert must score every criterion before a grant",
                experts=[
                    {"expert_id": t.expert_id, "scored": t.scored, "of": t.of}
                    for t in assessment.experts
                ],
            )
        if data.outcome is Outcome.GRANTED and not assessment.mandatory_met:
            raise InvalidTransition(
                "Mandatory criteria are not met; the application can be refused or made"
                " conditional",
                unmet=assessment.unmet,
            )
    if data.outcome is Outcome.GRANTED:
        catalogue = await session.get_one(CatalogueVersion, app.catalogue_id)
        if data.level not in catalogue.levels:
            raise Unprocessable.for_field(
                "level", f"level must be one of: {', '.join(catalogue.levels)}"
            )
        park = await known_park(session, app.park_id)
        if park is None:
            raise Conflict(f"Park {app.park_id} is no longer in the registry")
        terms = IssueTerms(
            level=data.level,
            valid_until=data.valid_until,
            issuer=issuer,
            prefix=prefix,
            validity_years=validity_years,
        )
        cert = await grant_certificate(
            session,
            application=app,
            park_name=park.name,
            terms=terms,
            signer=signer,
            actor=principal.subject,
        )
        app.certificate_id = cert.id
    decided = await record_decision(
        session,
        app,
        outcome=data.outcome,
        level=data.level,
        reasons=data.reasons,
        conditions=data.conditions,
        total=assessment.total,
        actor=principal.subject,
    )
    await application_decided(session, decided)
    return decided
