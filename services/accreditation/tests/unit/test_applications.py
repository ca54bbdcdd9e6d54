"""Applications in process: the transitions and their history, the computed assessment
(weights, scales, the mean of the experts, the total and the level thresholds), the
mandatory-criteria check and what each decision does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from innopark_accreditation.applications import assessment
from innopark_accreditation.applications import service as applications
from innopark_accreditation.applications.assessment import level_for
from innopark_accreditation.applications.schemas import ApplicationUpdate
from innopark_accreditation.models import ApplicationStatusChange, Certificate, known_parks
from innopark_shared.auth import Principal, Role
from innopark_shared.contracts import ParkRemovedV1
from innopark_shared.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from innopark_shared.http import etag_of
from innopark_shared.readmodels.parks import apply_park_removed
from pydantic import ValidationError

OPERATOR = Principal(subject="operator-1", role=Role.OPERATOR)
LEVELS = {"gold": 85, "silver": 70, "bronze": 55}


def manager(park_id: uuid.UUID) -> Principal:
    return Principal(subject=f"manager-{park_id}", role=Role.PARK_MANAGER, park_id=park_id)


def expert(name: str) -> Principal:
    return Principal(subject=name, role=Role.EXPERT)


async def history(session, app) -> list[tuple[str, str, str, str | None]]:
    rows = await session.scalars(
        sa.select(ApplicationStatusChange)
        .where(ApplicationStatusChange.application_id == app.id)
        .order_by(ApplicationStatusChange.id)
    )
    return [(r.action, r.from_status, r.to_status, r.detail) for r in rows]


# -- transitions ---------------------------------------------------------------------


async def test_an_application_goes_from_draft_to_decided_recording_each_action(world):
    park = await world.park()
    app = await world.draft(park)
    assert (app.status, app.version) == ("draft", 1)
    assert app.catalogue_id == world.catalogue.version.id  # the current version is pinned

    app = await applications.submit_application(
        session=world.session, principal=manager(park), application_id=app.id
    )
    assert (app.status, app.version) == ("submitted", 2) and app.submitted_at

    app = await assessment.assign_expert(
        session=world.session, principal=OPERATOR, application_id=app.id, expert_id="expert-a"
    )
    assert app.status == "under_review" and app.review_started_at and app.version == 3

    app = await assessment.assign_expert(
        session=world.session, principal=OPERATOR, application_id=app.id, expert_id="expert-b"
    )
    assert app.status == "under_review" and app.version == 4

    await world.top_scores(app, "expert-a")
    await world.top_scores(app, "expert-b")
    app = await world.decide(app, outcome="refused")
    assert app.status == "decided" and app.outcome == "refused" and app.decided_by == "operator-1"
    assert await history(world.session, app) == [
        ("submit", "draft", "submitted", None),
        ("assign_expert", "submitted", "submitted", "expert-a"),
        ("start_review", "submitted", "under_review", None),
        ("assign_expert", "under_review", "under_review", "expert-b"),
        ("decide", "under_review", "decided", "refused"),
    ]


async def test_submission_needs_a_self_assessment_of_every_criterion(world):
    park = await world.park()
    app = await world.draft(park, self_assessment=world.self_assessment()[:1])
    with pytest.raises(Unprocessable) as raised:
        await applications.submit_application(
            session=world.session, principal=manager(park), application_id=app.id
        )
    assert raised.value.extensions["missing_criteria"] == ["occupancy", "programmes"]
    assert raised.value.extensions["errors"][0]["field"] == "self_assessment"
    assert app.status == "draft"


async def test_a_self_assessed_score_outside_the_scale_names_it(world):
    park = await world.park()
    items = world.self_assessment()
    items[1]["score"] = 11  # occupancy is 0..10
    with pytest.raises(Unprocessable) as raised:
        await world.draft(park, self_assessment=items)
    assert raised.value.extensions["errors"][0]["field"] == "self_assessment.1.score"


async def test_only_a_draft_is_edited_and_a_stale_etag_is_refused(world):
    park = await world.park()
    app = await world.draft(park, summary="first")
    etag = etag_of(app.id, app.version)
    app = await applications.update_application(
        session=world.session,
        principal=manager(park),
        application_id=app.id,
        data=ApplicationUpdate.model_validate({"summary": None}),
        if_match=etag,
    )
    assert app.summary is None and app.version == 2  # null clears an optional field
    with pytest.raises(PreconditionFailed):
        await applications.update_application(
            session=world.session,
            principal=manager(park),
            application_id=app.id,
            data=ApplicationUpdate.model_validate({"summary": "again"}),
            if_match=etag,
        )
    await applications.submit_application(
        session=world.session, principal=manager(park), application_id=app.id
    )
    with pytest.raises(InvalidTransition) as raised:
        await applications.update_application(
            session=world.session,
            principal=manager(park),
            application_id=app.id,
            data=ApplicationUpdate.model_validate({"summary": "late"}),
            if_match=None,
        )
    assert raised.value.extensions["allowed_from"] == ["draft"]


def test_null_for_the_self_assessment_is_refused_naming_it():
    with pytest.raises(ValidationError) as raised:
        ApplicationUpdate.model_validate({"self_assessment": None})
    assert [e["loc"] for e in raised.value.errors()] == [("self_assessment",)]
    assert ApplicationUpdate.model_validate({"summary": None}).changes() == {"summary": None}


async def test_withdrawal_is_for_drafts_and_submissions_only(world):
    park = await world.park()
    app = await world.submitted(park)
    app = await applications.withdraw_application(
        session=world.session, principal=manager(park), application_id=app.id
    )
    assert app.status == "withdrawn"
    # The park may apply again once nothing is open; reviews cannot be withdrawn.
    again = await world.under_review(park)
    with pytest.raises(InvalidTransition):
        await applications.withdraw_application(
            session=world.session, principal=manager(park), application_id=again.id
        )


async def test_one_open_application_per_park_and_only_for_the_managers_park(world):
    park = await world.park()
    await world.draft(park)
    with pytest.raises(Conflict):
        await world.draft(park)
    other = await world.park()
    with pytest.raises(NotFound):
        await world.draft(other, park_id=str(park))  # another park's manager
    with pytest.raises(NotFound):
        await world.draft(uuid.uuid4())  # a park the registry never announced


async def test_review_actions_need_the_review_and_the_assignment(world):
    park = await world.park()
    app = await world.submitted(park)
    with pytest.raises(InvalidTransition):
        await world.decide(app, outcome="refused")
    with pytest.raises(InvalidTransition) as raised:
        await assessment.unassign_expert(
            session=world.session, principal=OPERATOR, application_id=app.id, expert_id="x"
        )
    assert "unassign an expert from" in str(raised.value)
    app = await assessment.assign_expert(
        session=world.session, principal=OPERATOR, application_id=app.id, expert_id="expert-a"
    )
    with pytest.raises(NotFound):  # not assigned: the application does not exist for them
        await world.top_scores(app, "expert-z")


# -- the computed assessment ---------------------------------------------------------


async def test_the_total_is_the_weighted_mean_of_normalised_expert_means(world):
    park = await world.park()
    app = await world.under_review(park, "expert-a", "expert-b")
    await world.score(app, "expert-a", {"infra": 4, "occupancy": 10, "programmes": 5})
    await world.score(app, "expert-b", {"infra": 2, "occupancy": 5, "programmes": 4})
    result = await assessment.get_assessment(
        session=world.session, principal=OPERATOR, application_id=app.id
    )
    by_code = {r.criterion.code: r for r in result.criteria}
    # infra 0..5: mean 3 -> 0.6; occupancy 0..10: mean 7.5 -> 0.75;
    # programmes 2..5: mean 4.5 -> (4.5 - 2) / 3 = 0.8333.
    assert {c: r.mean for c, r in by_code.items()} == {
        "infra": 3.0,
        "occupancy": 7.5,
        "programmes": 4.5,
    }
    assert by_code["infra"].normalized == pytest.approx(0.6)
    assert by_code["occupancy"].normalized == pytest.approx(0.75)
    assert by_code["programmes"].normalized == pytest.approx(2.5 / 3)
    # weights 3, 1, 2: 100 * (3 * 0.6 + 0.75 + 2 * 0.8333) / 6 = 70.28
    assert result.total == 70.28
    assert result.complete is True and result.mandatory_met is True
    assert result.suggested_level == "silver"
    assert [(t.expert_id, t.scored, t.of) for t in result.experts] == [
        ("expert-a", 3, 3),
        ("expert-b", 3, 3),
    ]


async def test_a_later_score_replaces_the_experts_earlier_one(world):
    park = await world.park()
    app = await world.under_review(park)
    await world.top_scores(app)
    await world.score(app, "expert-a", {"occupancy": 0})
    result = await assessment.get_assessment(
        session=world.session, principal=OPERATOR, application_id=app.id
    )
    assert {r.criterion.code: r.mean for r in result.criteria}["occupancy"] == 0.0
    assert result.total == pytest.approx(round(100 * 5 / 6, 2))


def test_level_thresholds_are_minimum_totals():
    assert level_for(100, LEVELS) == "gold"
    assert level_for(85, LEVELS) == "gold"
    assert level_for(84.99, LEVELS) == "silver"
    assert level_for(70, LEVELS) == "silver"
    assert level_for(55, LEVELS) == "bronze"
    assert level_for(54.99, LEVELS) is None


async def test_an_incomplete_assessment_suggests_no_level(world):
    park = await world.park()
    app = await world.under_review(park, "expert-a", "expert-b")
    await world.top_scores(app, "expert-a")
    result = await assessment.get_assessment(
        session=world.session, principal=OPERATOR, application_id=app.id
    )
    assert result.complete is False and result.total == 100.0
    assert result.suggested_level is None
    with pytest.raises(InvalidTransition) as raised:
        await world.decide(app, outcome="granted", level="gold")
    assert raised.value.extensions["experts"] == [
        {"expert_id": "expert-a", "scored": 3, "of": 3},
        {"expert_id": "expert-b", "scored": 0, "of": 3},
    ]
    with pytest.raises(InvalidTransition):  # a conditional decision needs it complete too
        await world.decide(app, outcome="conditional", conditions="Open a lab")
    app = await world.decide(app, outcome="refused")  # a refusal does not
    assert app.outcome == "refused" and app.decided_total == 100.0


async def test_the_total_counts_only_the_assigned_experts(world):
    park = await world.park()
    app = await world.under_review(park, "expert-a", "expert-b")
    await world.score(app, "expert-a", {"infra": 5, "occupancy": 10, "programmes": 5})
    await world.score(app, "expert-b", {"infra": 1, "occupancy": 0, "programmes": 2})
    await assessment.unassign_expert(
        session=world.session, principal=OPERATOR, application_id=app.id, expert_id="expert-b"
    )
    result = await assessment.get_assessment(
        session=world.session, principal=OPERATOR, application_id=app.id
    )
    assert result.total == 100.0 and result.complete is True
    assert [t.expert_id for t in result.experts] == ["expert-a"]


async def test_an_expert_sees_only_their_own_scores_during_the_review(world):
    park = await world.park()
    app = await world.under_review(park, "expert-a", "expert-b")
    await world.top_scores(app, "expert-a")
    mine = await world.score(app, "expert-b", {"infra": 0})
    assert mine.total is None and mine.suggested_level is None and mine.mandatory_met is False
    infra = next(r for r in mine.criteria if r.criterion.code == "infra")
    assert [s.expert_id for s in infra.scores] == ["expert-b"] and infra.mean is None
    full = await assessment.get_assessment(
        session=world.session, principal=OPERATOR, application_id=app.id
    )
    infra = next(r for r in full.criteria if r.criterion.code == "infra")
    assert [s.expert_id for s in infra.scores] == ["expert-a", "expert-b"] and infra.mean == 2.5


async def test_the_park_sees_the_assessment_once_decided(world):
    park = await world.park()
    app = await world.under_review(park)
    await world.top_scores(app)
    with pytest.raises(NotFound):
        await assessment.get_assessment(
            session=world.session, principal=manager(park), application_id=app.id
        )
    await world.decide(app, outcome="refused")
    seen = await assessment.get_assessment(
        session=world.session, principal=manager(park), application_id=app.id
    )
    assert seen.complete is True
    assert await assessment.get_assessment(
        session=world.session, principal=expert("expert-a"), application_id=app.id
    )


# -- the mandatory-criteria check ----------------------------------------------------


async def test_a_mandatory_criterion_under_its_pass_score_blocks_a_grant(world):
    """The rule today: a grant is refused (409 listing the unmet criteria) while any
    mandatory criterion's mean is below its pass score, whatever the total; the
    application can still be refused or made conditional."""
    assert world.criterion("programmes").pass_score == 4  # the default: middle, rounded up
    park = await world.park()
    app = await world.under_review(park, "expert-a", "expert-b")
    # programmes: mean 3.5 < 4; everything else at the top.
    await world.score(app, "expert-a", {"infra": 5, "occupancy": 10, "programmes": 4})
    await world.score(app, "expert-b", {"infra": 5, "occupancy": 10, "programmes": 3})
    result = await assessment.get_assessment(
        session=world.session, principal=OPERATOR, application_id=app.id
    )
    # (3 * 1 + 1 * 1 + 2 * 0.5) / 6: a silver total, and still no level.
    assert result.complete is True and result.total == 83.33
    assert result.mandatory_met is False and result.unmet == ["programmes"]
    assert result.suggested_level is None
    assert {r.criterion.code: r.met for r in result.criteria} == {
        "infra": True,
        "occupancy": None,  # not mandatory
        "programmes": False,
    }
    with pytest.raises(InvalidTransition) as raised:
        await world.decide(app, outcome="granted", level="bronze")
    assert raised.value.extensions["unmet"] == ["programmes"]
    app = await world.decide(app, outcome="conditional", conditions="Run two programmes")
    assert app.outcome == "conditional" and app.certificate_id is None
    certificates = await world.session.scalar(
        sa.select(sa.func.count()).select_from(Certificate).where(Certificate.park_id == park)
    )
    assert certificates == 0


async def test_a_mandatory_mean_equal_to_the_pass_score_is_met(world):
    park = await world.park()
    app = await world.under_review(park, "expert-a", "expert-b")
    await world.score(app, "expert-a", {"infra": 2, "occupancy": 10, "programmes": 5})
    await world.score(app, "expert-b", {"infra": 4, "occupancy": 10, "programmes": 5})
    result = await assessment.get_assessment(
        session=world.session, principal=OPERATOR, application_id=app.id
    )
    assert {r.criterion.code: r.met for r in result.criteria}["infra"] is True  # mean 3 == 3
    assert result.mandatory_met is True


async def test_an_unscored_mandatory_criterion_is_not_met(world):
    park = await world.park()
    app = await world.under_review(park)
    await world.score(app, "expert-a", {"occupancy": 10, "programmes": 5})
    result = await assessment.get_assessment(
        session=world.session, principal=OPERATOR, application_id=app.id
    )
    assert result.mandatory_met is False and result.unmet == ["infra"]


# -- decisions -----------------------------------------------------------------------


async def test_a_grant_issues_a_certificate_at_a_level_of_the_catalogue(world, outbox):
    park = await world.park("Ingria Business Incubator")
    app = await world.under_review(park)
    await world.top_scores(app)
    with pytest.raises(Unprocessable) as raised:
        await world.decide(app, outcome="granted", level="platinum")
    assert raised.value.extensions["errors"][0]["field"] == "level"
    app = await world.decide(app, outcome="granted", level="silver")  # below the suggestion
    cert = await world.session.get(Certificate, app.certificate_id)
    assert cert.level == "silver" and cert.park_name == "Ingria Business Incubator"
    assert cert.application_id == app.id and app.decided_total == 100.0
    assert await outbox.types() == ["certificate.granted.v1"]
    with pytest.raises(InvalidTransition):
        await world.decide(app, outcome="refused")
    assert (await history(world.session, app))[-1] == (
        "decide",
        "under_review",
        "decided",
        "granted (silver)",
    )


async def test_a_grant_for_a_park_the_registry_removed_is_a_conflict(world):
    park = await world.park()
    app = await world.under_review(park)
    await world.top_scores(app)
    removed = ParkRemovedV1(park_id=park, removed_at=datetime.now(UTC))
    await apply_park_removed(world.session, known_parks, removed, removed.removed_at)
    with pytest.raises(Conflict):
        await world.decide(app, outcome="granted", level="gold")
