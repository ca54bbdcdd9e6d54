"""Applications and assessments as the API shows them."""

from __future__ import annotations

from ..models import Application
from .assessment import Assessment, CriterionAssessment
from .queries import ApplicationFacts
from .schemas import (
    ApplicationRead,
    ApplicationStatus,
    AssessmentRead,
    CriterionResult,
    DecisionRead,
    ExpertProgress,
    ExpertScore,
    Outcome,
    SelfAssessmentItem,
)


def present_application(app: Application, facts: ApplicationFacts) -> ApplicationRead:
    decision = None
    if app.outcome and app.decided_at is not None:
        decision = DecisionRead(
            outcome=Outcome(app.outcome),
            level=app.level,
            reasons=app.reasons or "",
            conditions=app.conditions,
            total=app.decided_total,
            decided_at=app.decided_at,
            decided_by=app.decided_by or "",
            certificate_number=facts.certificate_number,
        )
    return ApplicationRead(
        id=app.id,
        park_id=app.park_id,
        park_name=facts.park_name,
        catalogue_id=app.catalogue_id,
        catalogue_number=facts.catalogue_number,
        status=ApplicationStatus(app.status),
        summary=app.summary,
        self_assessment=[SelfAssessmentItem.model_validate(i) for i in app.self_assessment],
        experts=facts.experts,
        created_by=app.created_by,
        created_at=app.created_at,
        submitted_at=app.submitted_at,
        review_started_at=app.review_started_at,
        decision=decision,
    )


def _present_criterion(result: CriterionAssessment) -> CriterionResult:
    c = result.criterion
    return CriterionResult(
        criterion_id=c.id,
        code=c.code,
        heading=c.heading,
        title=c.title,
        weight=c.weight,
        mandatory=c.mandatory,
        scale_min=c.scale_min,
        scale_max=c.scale_max,
        pass_score=c.pass_score,
        mean_score=result.mean,
        normalized=None if result.normalized is None else round(result.normalized, 4),
        met=result.met,
        scores=[
            ExpertScore(
                expert_id=s.expert_id, score=s.score, comment=s.comment, scored_at=s.scored_at
            )
            for s in result.scores
        ],
    )


def present_assessment(assessment: Assessment) -> AssessmentRead:
    return AssessmentRead(
        application_id=assessment.application_id,
        catalogue_id=assessment.catalogue_id,
        complete=assessment.complete,
        total=assessment.total,
        mandatory_met=assessment.mandatory_met,
        suggested_level=assessment.suggested_level,
        experts=[
            ExpertProgress(expert_id=t.expert_id, scored=t.scored, of=t.of)
            for t in assessment.experts
        ],
        criteria=[_present_criterion(r) for r in assessment.criteria],
    )
