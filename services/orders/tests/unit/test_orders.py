"""The order lifecycle in-process: every transition, who may do it, from which states,
the history rows and the outbox events it writes, and what an invalid one raises."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from innopark_orders import access
from innopark_orders.models import OrderTransition, WebhookDelivery, WebhookEndpoint
from innopark_orders.orders import queries, service, transitions
from innopark_orders.orders.presenters import present_order
from innopark_orders.orders.schemas import OrderUpdate
from innopark_orders.proposals import service as proposal_service
from innopark_orders.proposals import transitions as proposal_transitions
from innopark_orders.proposals.schemas import ProposalCreate
from innopark_shared.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from innopark_shared.http import etag_of


async def _history(world, order) -> list[tuple[str, str | None, str, str, str | None]]:
    rows = await queries.list_transitions(
        session=world.session, principal=world.operator, order_id=order.id
    )
    return [(r.action, r.from_status, r.to_status, r.actor_role, r.reason) for r in rows]


async def test_a_new_order_is_a_draft_with_a_reference_and_a_history(world, outbox):
    partner = await world.partner(country="FR")
    order = await world.draft(partner)
    assert order.status == "draft"
    assert order.reference.startswith(f"TOFR{datetime.now(UTC).year}")
    assert order.version == 1
    assert await _history(world, order) == [("create", None, "draft", "partner", None)]
    # A draft is the partner's business only (the partner itself was announced).
    assert await outbox.types() == ["partner.registered.v1"]


async def test_submit_by_its_partner(world, outbox):
    partner = await world.partner()
    order = await world.draft(partner)
    submitted = await transitions.submit_order(
        session=world.session, principal=partner, order_id=order.id, reason="Ready"
    )
    assert (submitted.status, submitted.version) == ("submitted", 2)
    assert (await _history(world, order))[-1] == (
        "submit",
        "draft",
        "submitted",
        "partner",
        "Ready",
    )
    [event] = await outbox.events("order.submitted")
    assert event.key == str(order.id)
    assert event.topic == "innopark.orders.orders"
    assert event.data["status"] == "submitted" and event.data["previous_status"] == "draft"
    assert event.data["partner_id"] == str(partner.partner_id)
    assert event.data["actor_role"] == "partner" and event.data["reason"] == "Ready"


async def test_submit_refuses_others_stale_etags_and_wrong_states(world):
    partner = await world.partner()
    order = await world.draft(partner)
    rival = await world.partner("Rival")
    with pytest.raises(NotFound):  # another partner's order does not exist for it
        await transitions.submit_order(session=world.session, principal=rival, order_id=order.id)
    with pytest.raises(Forbidden):  # the association moderates, it does not submit
        await transitions.submit_order(
            session=world.session, principal=world.operator, order_id=order.id
        )
    with pytest.raises(PreconditionFailed):
        await transitions.submit_order(
            session=world.session,
            principal=partner,
            order_id=order.id,
            if_match=etag_of(order.id, order.version + 5),
        )
    await transitions.submit_order(
        session=world.session,
        principal=partner,
        order_id=order.id,
        if_match=etag_of(order.id, order.version),
    )
    with pytest.raises(InvalidTransition) as twice:
        await transitions.submit_order(session=world.session, principal=partner, order_id=order.id)
    assert twice.value.status == 409
    assert twice.value.extensions == {"current_status": "submitted", "allowed_from": ["draft"]}


async def test_submit_and_publish_refuse_a_passed_deadline(world):
    partner = await world.partner()
    order = await world.draft(partner)
    order.deadline = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(InvalidTransition, match="deadline has passed"):
        await transitions.submit_order(session=world.session, principal=partner, order_id=order.id)
    order.deadline = datetime.now(UTC) + timedelta(days=1)
    await transitions.submit_order(session=world.session, principal=partner, order_id=order.id)
    order.deadline = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(InvalidTransition, match="deadline has passed"):
        await transitions.publish_order(
            session=world.session,
            principal=world.operator,
            order_id=order.id,
            settings=world.settings,
        )
    assert order.status == "submitted"


async def test_return_sends_a_submitted_order_back_with_the_comment(world, outbox):
    partner = await world.partner()
    order = await world.submitted(partner)
    with pytest.raises(Forbidden):
        await transitions.return_order(
            session=world.session, principal=partner, order_id=order.id, comment="Mine"
        )
    returned = await transitions.return_order(
        session=world.session, principal=world.operator, order_id=order.id, comment="Give TRL"
    )
    assert (returned.status, returned.moderation_comment) == ("draft", "Give TRL")
    assert (await _history(world, order))[-1] == (
        "return",
        "submitted",
        "draft",
        "operator",
        "Give TRL",
    )
    [event] = await outbox.events("order.returned")
    assert event.data["reason"] == "Give TRL" and event.data["actor_role"] == "operator"
    # The comment is for the partner and the association only.
    stranger = world.resident()
    assert present_order(returned, partner).moderation_comment == "Give TRL"
    assert present_order(returned, stranger).moderation_comment is None
    with pytest.raises(InvalidTransition):  # a draft is not under moderation
        await transitions.return_order(
            session=world.session, principal=world.operator, order_id=order.id, comment="Again"
        )


async def test_publish_matches_and_announces_the_counts(world, outbox):
    park = await world.park("Technopolis Himgrad", ["catalysis"])
    await world.known_resident(park, "PolyCycle", ["catalysis"], "Catalytic recycling")
    partner = await world.partner()
    order = await world.submitted(partner)
    with pytest.raises(Forbidden):
        await transitions.publish_order(
            session=world.session, principal=partner, order_id=order.id, settings=world.settings
        )
    published = await transitions.publish_order(
        session=world.session,
        principal=world.operator,
        order_id=order.id,
        settings=world.settings,
        reason="Fine",
    )
    assert published.status == "published" and published.published_at is not None
    assert published.moderation_comment is None
    [event] = await outbox.events("order.published")
    assert (event.data["matched_parks"], event.data["matched_residents"]) == (1, 1)
    assert (await _history(world, order))[-1] == (
        "publish",
        "submitted",
        "published",
        "operator",
        "Fine",
    )
    with pytest.raises(InvalidTransition):
        await transitions.publish_order(
            session=world.session,
            principal=world.operator,
            order_id=order.id,
            settings=world.settings,
        )


@pytest.mark.parametrize("stage", ["draft", "submitted", "published"])
async def test_cancel_from_every_live_state(world, outbox, stage):
    partner = await world.partner()
    order = await getattr(world, stage)(partner)
    cancelled = await transitions.cancel_order(
        session=world.session, principal=partner, order_id=order.id, reason="Budget cut"
    )
    assert cancelled.status == "cancelled"
    assert (await _history(world, order))[-1] == (
        "cancel",
        stage,
        "cancelled",
        "partner",
        "Budget cut",
    )
    [event] = await outbox.events("order.cancelled")
    assert event.data["previous_status"] == stage
    for action in (transitions.cancel_order, transitions.close_order):
        with pytest.raises(InvalidTransition):
            await action(session=world.session, principal=partner, order_id=order.id)


async def test_cancel_and_close_by_the_association_but_not_by_a_resident(world):
    partner = await world.partner()
    first, second = await world.published(partner), await world.published(partner)
    resident = world.resident()
    with pytest.raises(Forbidden):
        await transitions.cancel_order(session=world.session, principal=resident, order_id=first.id)
    with pytest.raises(Forbidden):
        await transitions.close_order(session=world.session, principal=resident, order_id=first.id)
    closed = await transitions.close_order(
        session=world.session, principal=world.operator, order_id=first.id
    )
    cancelled = await transitions.cancel_order(
        session=world.session, principal=world.operator, order_id=second.id
    )
    assert (closed.status, cancelled.status) == ("closed", "cancelled")
    assert (await _history(world, closed))[-1][3] == "operator"


async def test_close_needs_a_published_order(world, outbox):
    partner = await world.partner()
    order = await world.submitted(partner)
    with pytest.raises(InvalidTransition) as refused:
        await transitions.close_order(session=world.session, principal=partner, order_id=order.id)
    assert refused.value.extensions["allowed_from"] == ["published"]
    await transitions.publish_order(
        session=world.session, principal=world.operator, order_id=order.id, settings=world.settings
    )
    closed = await transitions.close_order(
        session=world.session, principal=partner, order_id=order.id, reason="No fit"
    )
    assert closed.status == "closed"
    [event] = await outbox.events("order.closed")
    assert event.data["reason"] == "No fit"


async def test_award_needs_exactly_one_accepted_proposal(world, outbox):
    partner = await world.partner()
    order = await world.published(partner)
    with pytest.raises(InvalidTransition, match="exactly one accepted") as none:
        await transitions.award_order(session=world.session, principal=partner, order_id=order.id)
    assert none.value.extensions == {"accepted": 0}
    manager = world.park_manager()
    proposal = await proposal_service.create_proposal(
        session=world.session,
        principal=manager,
        order_id=order.id,
        data=ProposalCreate(summary="Pilot line"),
    )
    with pytest.raises(InvalidTransition, match="Only an accepted proposal"):
        await transitions.award_order(
            session=world.session, principal=partner, order_id=order.id, proposal_id=proposal.id
        )
    for decide in (proposal_transitions.shortlist_proposal, proposal_transitions.accept_proposal):
        await decide(session=world.session, principal=partner, proposal_id=proposal.id)
    awarded = await transitions.award_order(
        session=world.session, principal=partner, order_id=order.id, reason="Best plan"
    )
    assert (awarded.status, awarded.awarded_proposal_id) == ("awarded", proposal.id)
    rows = (
        (
            await world.session.execute(
                sa.select(OrderTransition)
                .where(OrderTransition.order_id == order.id)
                .order_by(OrderTransition.id)
            )
        )
        .scalars()
        .all()
    )
    assert (rows[-1].action, rows[-1].proposal_id, rows[-1].reason) == (
        "award",
        proposal.id,
        "Best plan",
    )
    [event] = await outbox.events("order.awarded")
    assert event.data["awarded_proposal_id"] == str(proposal.id)
    assert proposal.status == "accepted"  # the winner is not rejected


async def test_expire_only_after_the_deadline_and_only_by_the_service(world, outbox):
    partner = await world.partner()
    order = await world.published(partner)
    with pytest.raises(InvalidTransition, match="has not passed"):
        await transitions.expire_order(session=world.session, order_id=order.id)
    draft = await world.draft(partner)
    for row in (order, draft):
        row.deadline = datetime.now(UTC) - timedelta(seconds=1)
    await world.session.flush()
    assert await transitions.expire_due_orders(session=world.session) == 1
    assert (order.status, draft.status) == ("expired", "draft")  # a draft just waits
    assert (await _history(world, order))[-1] == (
        "expire",
        "published",
        "expired",
        "system",
        "The deadline passed",
    )
    [event] = await outbox.events("order.expired")
    assert event.data["actor_role"] == "system"
    assert await transitions.expire_due_orders(session=world.session) == 0
    assert transitions.may(transitions.OrderAction.EXPIRE) == frozenset()


async def test_rematch_is_for_the_association_and_published_orders(world):
    park = await world.park("Ingria", ["robotics"])
    partner = await world.partner()
    order = await world.published(partner, technology_tags=["robotics"])
    with pytest.raises(Forbidden):
        await transitions.rematch_order(
            session=world.session, principal=partner, order_id=order.id, settings=world.settings
        )
    matches = await transitions.rematch_order(
        session=world.session, principal=world.operator, order_id=order.id, settings=world.settings
    )
    assert [(m.target_kind, m.target_id) for m in matches] == [("park", park)]
    assert (await _history(world, order))[-1] == (
        "rematch",
        "published",
        "published",
        "operator",
        None,
    )
    await transitions.close_order(session=world.session, principal=partner, order_id=order.id)
    with pytest.raises(InvalidTransition):
        await transitions.rematch_order(
            session=world.session,
            principal=world.operator,
            order_id=order.id,
            settings=world.settings,
        )


async def test_only_a_draft_is_edited_and_its_budget_stays_a_range(world):
    partner = await world.partner()
    order = await world.draft(partner)
    edited = await service.update_order(
        session=world.session,
        principal=partner,
        order_id=order.id,
        data=OrderUpdate(title="Pilot-scale recycling", trl=None),
        if_match=None,
    )
    assert (edited.title, edited.trl, edited.version) == ("Pilot-scale recycling", None, 2)
    with pytest.raises(Unprocessable) as bad:
        await service.update_order(
            session=world.session,
            principal=partner,
            order_id=order.id,
            data=OrderUpdate(budget_max="10"),  # below the stored budget_min
            if_match=None,
        )
    assert bad.value.extensions["errors"][0]["field"] == "budget_max"
    await transitions.submit_order(session=world.session, principal=partner, order_id=order.id)
    with pytest.raises(InvalidTransition, match="Only a draft"):
        await service.update_order(
            session=world.session,
            principal=partner,
            order_id=order.id,
            data=OrderUpdate(title="Too late"),
            if_match=None,
        )


async def test_a_confidential_order_hides_its_requester(world, outbox):
    partner = await world.partner()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        partner_id=partner.partner_id,
        url="https://hooks.partner.example/",
        secret="whsec_" + "A" * 44,
        event_types=[],
        enabled=True,
        consecutive_failures=0,
    )
    world.session.add(endpoint)
    order = await world.published(partner, confidential=True)
    resident = world.resident()
    assert present_order(order, resident).requester is None
    assert present_order(order, partner).requester.partner_id == partner.partner_id
    assert present_order(order, world.operator).requester.partner_id == partner.partner_id
    # Events leave the requester out; the partner's own webhooks name it.
    events = await outbox.events("org.innopark.orders.order.")
    assert [e.data["partner_id"] for e in events] == [None, None]
    payloads = (
        (
            await world.session.execute(
                sa.select(WebhookDelivery.payload).where(WebhookDelivery.endpoint_id == endpoint.id)
            )
        )
        .scalars()
        .all()
    )
    assert {p["data"]["partner_id"] for p in payloads} == {str(partner.partner_id)}
    # Residents see it while published; another partner never does.
    assert await access.get_order(session=world.session, principal=resident, order_id=order.id)
    with pytest.raises(NotFound):
        await access.get_order(
            session=world.session, principal=await world.partner("Rival"), order_id=order.id
        )


async def test_filtering_by_requester_never_finds_a_confidential_order(world):
    """The unmasking path: read an open order of P, learn P, filter by P."""
    partner = await world.partner("Unmaskable AG")
    shown = await world.published(partner, title="Open order of the partner")
    hidden = await world.published(partner, title="Confidential order", confidential=True)
    resident, manager = world.resident(), world.park_manager()

    async def by_requester(principal) -> set[uuid.UUID]:
        found = await queries.list_orders(
            session=world.session,
            principal=principal,
            status=None,
            q=None,
            partner_id=partner.partner_id,
            cursor=None,
            limit=100,
        )
        return {o.id for o in found.items}

    # Both are visible as orders; only the open one is visible as P's.
    assert await access.get_order(session=world.session, principal=resident, order_id=hidden.id)
    assert present_order(shown, resident).requester.partner_id == partner.partner_id
    for outsider in (resident, manager):
        assert await by_requester(outsider) == {shown.id}
    for insider in (partner, world.operator):
        assert await by_requester(insider) == {shown.id, hidden.id}
    # Another partner's id finds nothing of P's for P's rival.
    assert await by_requester(await world.partner("Rival AG")) == set()
