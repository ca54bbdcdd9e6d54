"""The proposal lifecycle in-process: proposing, the partner's decisions (contacts
revealed only at shortlisting), structured rejections, withdrawal, and what an order that
ends does to the proposals still open on it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from innopark_orders.models import (
    OrderTransition,
    RejectionReason,
    WebhookDelivery,
    WebhookEndpoint,
)
from innopark_orders.orders import transitions as order_transitions
from innopark_orders.proposals import queries, service, transitions
from innopark_orders.proposals.presenters import present_proposal
from innopark_orders.proposals.schemas import ProposalCreate
from innopark_shared.errors import Conflict, Forbidden, InvalidTransition, NotFound, Unprocessable


async def _propose(world, order, principal, summary="Our offer", **fields):
    return await service.create_proposal(
        session=world.session,
        principal=principal,
        order_id=order.id,
        data=ProposalCreate(summary=summary, **fields),
    )


async def _actions(world, order) -> list[tuple[str, str | None]]:
    rows = await world.session.execute(
        sa.select(OrderTransition.action, OrderTransition.reason)
        .where(OrderTransition.order_id == order.id)
        .order_by(OrderTransition.id)
    )
    return [tuple(r) for r in rows]


async def test_a_resident_proposes_with_its_registry_name_and_contact(world, outbox):
    park = await world.park("Himgrad", ["chemistry"])
    resident_id = await world.known_resident(
        park, "PolyCycle", ["catalysis"], email="hi@poly.example"
    )
    partner = await world.partner()
    order = await world.published(partner)
    proposal = await _propose(
        world, order, world.resident(resident_id), trl=6, price_amount="200000"
    )
    assert (proposal.status, proposal.proposer_kind, proposal.proposer_id) == (
        "submitted",
        "resident",
        resident_id,
    )
    assert (proposal.proposer_name, proposal.proposer_email) == ("PolyCycle", "hi@poly.example")
    [event] = await outbox.events("proposal.received")
    assert event.key == str(proposal.id) and event.topic == "innopark.orders.proposals"
    assert event.data["summary"] == "Our offer" and event.data["resident_id"] == str(resident_id)
    assert event.data["partner_id"] == str(partner.partner_id)


async def test_one_live_proposal_per_proposer_and_only_to_published_orders(world):
    partner = await world.partner()
    draft = await world.draft(partner)
    manager = world.park_manager()
    with pytest.raises(NotFound):  # a draft is not visible to proposers
        await _propose(world, draft, manager)
    with pytest.raises(Forbidden):
        await _propose(world, draft, partner)
    order = await world.published(partner)
    first = await _propose(world, order, manager)
    assert (first.proposer_kind, first.proposer_id) == ("park", manager.park_id)
    with pytest.raises(Conflict, match="live proposal"):
        await _propose(world, order, manager, summary="Again")
    await transitions.withdraw_proposal(
        session=world.session, principal=manager, proposal_id=first.id
    )
    replacement = await _propose(world, order, manager, summary="Revised")
    assert replacement.status == "submitted"
    operator = world.operator
    await order_transitions.close_order(
        session=world.session, principal=operator, order_id=order.id
    )
    with pytest.raises(InvalidTransition, match="only while the order is published"):
        await _propose(world, order, world.park_manager(manager.park_id))


async def test_shortlisting_reveals_both_contacts(world, outbox):
    partner = await world.partner(contact_email="scouting@partner.example")
    order = await world.published(partner)
    resident = world.resident()
    proposal = await _propose(world, order, resident, contact_email="cto@resident.example")
    # Before: each side sees only its own contact; the association sees the proposer's.
    assert present_proposal(proposal, partner).proposer_contact is None
    assert present_proposal(proposal, resident).requester_contact is None
    assert present_proposal(proposal, resident).proposer_contact.email == "cto@resident.example"
    assert present_proposal(proposal, world.operator).proposer_contact is not None

    shortlisted = await transitions.shortlist_proposal(
        session=world.session, principal=partner, proposal_id=proposal.id, reason="Promising"
    )
    assert (shortlisted.status, shortlisted.status_comment) == ("shortlisted", "Promising")
    assert present_proposal(shortlisted, partner).proposer_contact.email == "cto@resident.example"
    assert present_proposal(shortlisted, resident).requester_contact.email == (
        "scouting@partner.example"
    )
    assert present_proposal(shortlisted, resident).requester_contact.name == (
        "Head of Open Innovation"
    )
    assert (await _actions(world, order))[-1] == ("proposal_shortlist", "Promising")
    [event] = await outbox.events("proposal.shortlisted")
    assert (event.data["previous_status"], event.data["status"]) == ("submitted", "shortlisted")


async def test_who_may_decide_and_who_may_withdraw(world):
    partner = await world.partner()
    order = await world.published(partner)
    manager = world.park_manager()
    proposal = await _propose(world, order, manager)
    for decide in (
        transitions.shortlist_proposal,
        transitions.accept_proposal,
    ):
        with pytest.raises(Forbidden):  # the proposer does not decide on its own proposal
            await decide(session=world.session, principal=manager, proposal_id=proposal.id)
    with pytest.raises(Forbidden):  # the partner does not withdraw it
        await transitions.withdraw_proposal(
            session=world.session, principal=partner, proposal_id=proposal.id
        )
    rival = await world.partner("Rival")
    with pytest.raises(NotFound):  # another partner's order's proposal does not exist for it
        await transitions.shortlist_proposal(
            session=world.session, principal=rival, proposal_id=proposal.id
        )
    with pytest.raises(NotFound):  # nor does another proposer's
        await transitions.withdraw_proposal(
            session=world.session, principal=world.park_manager(), proposal_id=proposal.id
        )
    by_operator = await transitions.shortlist_proposal(
        session=world.session, principal=world.operator, proposal_id=proposal.id
    )
    assert by_operator.status == "shortlisted"


async def test_accept_only_after_shortlisting(world, outbox):
    partner = await world.partner()
    order = await world.published(partner)
    proposal = await _propose(world, order, world.park_manager())
    with pytest.raises(InvalidTransition) as early:
        await transitions.accept_proposal(
            session=world.session, principal=partner, proposal_id=proposal.id
        )
    assert early.value.extensions == {
        "current_status": "submitted",
        "allowed_from": ["shortlisted"],
    }
    await transitions.shortlist_proposal(
        session=world.session, principal=partner, proposal_id=proposal.id
    )
    accepted = await transitions.accept_proposal(
        session=world.session, principal=partner, proposal_id=proposal.id
    )
    assert accepted.status == "accepted"
    assert present_proposal(accepted, partner).proposer_contact is not None
    assert [e.data["status"] for e in await outbox.events("org.innopark.orders.proposal.")] == [
        "submitted",
        "shortlisted",
        "accepted",
    ]
    with pytest.raises(InvalidTransition):  # an accepted proposal is no longer rejected by hand
        await transitions.reject_proposal(
            session=world.session,
            principal=partner,
            proposal_id=proposal.id,
            reason=RejectionReason.OTHER,
        )


@pytest.mark.parametrize("shortlist_first", [False, True])
async def test_reject_with_a_structured_reason(world, outbox, shortlist_first):
    partner = await world.partner()
    order = await world.published(partner)
    resident = world.resident()
    proposal = await _propose(world, order, resident)
    if shortlist_first:
        await transitions.shortlist_proposal(
            session=world.session, principal=partner, proposal_id=proposal.id
        )
    rejected = await transitions.reject_proposal(
        session=world.session,
        principal=partner,
        proposal_id=proposal.id,
        reason=RejectionReason.TOO_EARLY_STAGE,
        comment="TRL 4 at best",
    )
    assert (rejected.status, rejected.rejection_reason, rejected.status_comment) == (
        "rejected",
        "too_early_stage",
        "TRL 4 at best",
    )
    # A rejected proposal's contacts are hidden again.
    assert present_proposal(rejected, partner).proposer_contact is None
    assert present_proposal(rejected, resident).requester_contact is None
    assert (await _actions(world, order))[-1] == ("proposal_reject", "too_early_stage")
    [event] = await outbox.events("proposal.rejected")
    assert event.data["rejection_reason"] == "too_early_stage"
    assert event.data["reason"] == "too_early_stage"
    with pytest.raises(InvalidTransition) as again:
        await transitions.reject_proposal(
            session=world.session,
            principal=partner,
            proposal_id=proposal.id,
            reason=RejectionReason.OTHER,
        )
    assert again.value.extensions["current_status"] == "rejected"


async def test_order_closed_is_the_services_own_reason(world, outbox):
    partner = await world.partner()
    order = await world.published(partner)
    proposal = await _propose(world, order, world.resident())
    with pytest.raises(Unprocessable) as refused:
        await transitions.reject_proposal(
            session=world.session,
            principal=partner,
            proposal_id=proposal.id,
            reason=RejectionReason.ORDER_CLOSED,
        )
    assert refused.value.extensions["errors"][0]["field"] == "reason"
    assert proposal.status == "submitted"
    assert await outbox.events("proposal.rejected") == []


async def test_withdraw_by_the_proposer(world, outbox):
    partner = await world.partner()
    order = await world.published(partner)
    resident = world.resident()
    proposal = await _propose(world, order, resident)
    withdrawn = await transitions.withdraw_proposal(
        session=world.session, principal=resident, proposal_id=proposal.id, reason="Capacity"
    )
    assert (withdrawn.status, withdrawn.status_comment) == ("withdrawn", "Capacity")
    assert (await _actions(world, order))[-1] == ("proposal_withdraw", "Capacity")
    [event] = await outbox.events("proposal.withdrawn")
    assert event.data["reason"] == "Capacity"
    with pytest.raises(InvalidTransition):
        await transitions.withdraw_proposal(
            session=world.session, principal=resident, proposal_id=proposal.id
        )
    with pytest.raises(InvalidTransition):
        await transitions.shortlist_proposal(
            session=world.session, principal=partner, proposal_id=proposal.id
        )


async def test_an_awarded_order_rejects_every_other_open_proposal(world, outbox):
    partner = await world.partner()
    order = await world.published(partner)
    managers = [world.park_manager() for _ in range(4)]
    winner, waiting, shortlisted, runner_up = [await _propose(world, order, m) for m in managers]
    for proposal, decide in (
        (winner, transitions.shortlist_proposal),
        (winner, transitions.accept_proposal),
        (shortlisted, transitions.shortlist_proposal),
        (runner_up, transitions.shortlist_proposal),
        (runner_up, transitions.accept_proposal),
    ):
        await decide(session=world.session, principal=partner, proposal_id=proposal.id)
    await order_transitions.award_order(
        session=world.session, principal=partner, order_id=order.id, proposal_id=winner.id
    )
    assert winner.status == "accepted"
    for proposal in (waiting, shortlisted, runner_up):
        assert (proposal.status, proposal.rejection_reason, proposal.status_comment) == (
            "rejected",
            "order_closed",
            "The order was awarded",
        )
    assert (await _actions(world, order))[-4:] == [
        ("award", None),
        ("proposal_reject", "The order was awarded"),
        ("proposal_reject", "The order was awarded"),
        ("proposal_reject", "The order was awarded"),
    ]
    rejected = await outbox.events("proposal.rejected")
    assert sorted(e.key for e in rejected) == sorted(
        str(p.id) for p in (waiting, shortlisted, runner_up)
    )
    assert {(e.data["rejection_reason"], e.data["reason"]) for e in rejected} == {
        ("order_closed", "order_closed")
    }
    assert {e.data["previous_status"] for e in rejected} == {"submitted", "shortlisted", "accepted"}
    # Final now: no decision and no withdrawal moves them.
    with pytest.raises(InvalidTransition):
        await transitions.withdraw_proposal(
            session=world.session, principal=managers[1], proposal_id=waiting.id
        )


@pytest.mark.parametrize("ending", ["cancel", "close", "expire"])
async def test_every_ending_rejects_the_open_proposals(world, outbox, ending):
    partner = await world.partner()
    order = await world.published(partner)
    manager = world.park_manager()
    proposal = await _propose(world, order, manager)
    withdrawn = await _propose(world, order, world.park_manager())
    await transitions.withdraw_proposal(
        session=world.session,
        principal=world.park_manager(withdrawn.proposer_id),
        proposal_id=withdrawn.id,
    )
    if ending == "expire":
        order.deadline = datetime.now(UTC) - timedelta(seconds=1)
        await order_transitions.expire_order(session=world.session, order_id=order.id)
        expected_role = "system"
    else:
        action = getattr(order_transitions, f"{ending}_order")
        await action(session=world.session, principal=partner, order_id=order.id)
        expected_role = "partner"
    assert (proposal.status, proposal.rejection_reason) == ("rejected", "order_closed")
    assert withdrawn.status == "withdrawn"  # already answered: left alone
    rows = (
        await world.session.execute(
            sa.select(OrderTransition)
            .where(OrderTransition.order_id == order.id)
            .order_by(OrderTransition.id.desc())
            .limit(1)
        )
    ).scalar_one()
    assert (rows.action, rows.proposal_id, rows.actor_role) == (
        "proposal_reject",
        proposal.id,
        expected_role,
    )
    [event] = await outbox.events("proposal.rejected")
    assert event.key == str(proposal.id)
    # The proposer sees its answer.
    seen = await queries.get_proposal(
        session=world.session, principal=manager, proposal_id=proposal.id
    )
    assert (seen.status, seen.rejection_reason) == ("rejected", "order_closed")


async def test_listing_shows_each_side_its_own(world):
    partner = await world.partner()
    order = await world.published(partner)
    mine, theirs = world.resident(), world.resident()
    own = await _propose(world, order, mine)
    other = await _propose(world, order, theirs)
    for principal, expected in ((partner, {own.id, other.id}), (mine, {own.id})):
        page = await queries.list_proposals(
            session=world.session,
            principal=principal,
            order_id=None,
            status=None,
            cursor=None,
            limit=10,
        )
        assert {p.id for p in page.items} == expected
    with pytest.raises(NotFound):
        await queries.get_proposal(session=world.session, principal=mine, proposal_id=other.id)
    rival = await world.partner("Rival")
    with pytest.raises(NotFound):
        await queries.list_proposals(
            session=world.session,
            principal=rival,
            order_id=order.id,
            status=None,
            cursor=None,
            limit=10,
        )


async def test_before_the_shortlist_the_partner_gets_an_opaque_reference_only(world, outbox):
    """Nothing that identifies the resident reaches the partner before the shortlist: not
    in its views, not in its webhooks."""
    partner = await world.partner()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        partner_id=partner.partner_id,
        url="https://hooks.partner.example/",
        secret="whsec_" + "B" * 44,
        event_types=[],
        enabled=True,
        consecutive_failures=0,
    )
    world.session.add(endpoint)
    order = await world.published(partner)
    resident = world.resident()
    first = await _propose(world, order, resident)
    second_order = await world.published(partner, title="Another order")
    second = await _propose(world, second_order, resident)

    seen = present_proposal(first, partner)
    assert (seen.resident_id, seen.park_id, seen.proposer_contact) == (None, None, None)
    assert seen.proposer_reference.startswith("PR-")
    assert str(resident.resident_id) not in seen.model_dump_json()
    # One reference per proposal: the partner cannot link two proposals of one resident.
    assert present_proposal(second, partner).proposer_reference != seen.proposer_reference
    # The resident and the association know who proposed.
    assert present_proposal(first, resident).resident_id == resident.resident_id
    assert present_proposal(first, world.operator).resident_id == resident.resident_id

    async def webhook_data() -> list[dict]:
        rows = await world.session.execute(
            sa.select(WebhookDelivery.payload).where(WebhookDelivery.endpoint_id == endpoint.id)
        )
        return [p["data"] for p in rows.scalars() if p["data"].get("proposal_id") == str(first.id)]

    [received] = await webhook_data()
    assert (received["resident_id"], received["park_id"]) == (None, None)
    assert received["proposer_reference"] == seen.proposer_reference
    assert str(resident.resident_id) not in str(received)

    await transitions.shortlist_proposal(
        session=world.session, principal=partner, proposal_id=first.id
    )
    assert present_proposal(first, partner).resident_id == resident.resident_id
    shortlisted = [d for d in await webhook_data() if d["status"] == "shortlisted"]
    assert [d["resident_id"] for d in shortlisted] == [str(resident.resident_id)]
