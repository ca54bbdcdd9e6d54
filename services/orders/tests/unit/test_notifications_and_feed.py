"""E-mails recorded with the change (an order returned; proposals shortlisted, accepted,
rejected), and the partners' catch-up feed: every message their webhooks would receive,
their own only, with the webhook's confidentiality; a redelivery settles the pending retry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from innopark_orders.models import PartnerEvent, RejectionReason, WebhookDelivery, WebhookEndpoint
from innopark_orders.orders import transitions as order_transitions
from innopark_orders.proposals import service, transitions
from innopark_orders.proposals.schemas import ProposalCreate
from innopark_orders.webhooks import delivery, feed
from innopark_orders.webhooks import service as webhooks
from innopark_shared.errors import InvalidTransition, NotFound
from innopark_shared.notifications import PUBLIC_BASE_URL


async def _propose(world, order, principal, **fields):
    return await service.create_proposal(
        session=world.session,
        principal=principal,
        order_id=order.id,
        data=ProposalCreate(summary="Our offer", **fields),
    )


async def test_a_returned_order_is_mailed_to_the_partners_contact(world, notifications):
    partner = await world.partner(contact_name="Eva Braun", contact_email="eva@partner.example")
    order = await world.submitted(partner)
    await order_transitions.return_order(
        session=world.session,
        principal=world.operator,
        order_id=order.id,
        comment="Say which TRL you need",
    )
    [mail] = await notifications.all()
    assert (mail.kind, mail.recipient) == ("order.returned", "eva@partner.example")
    assert mail.subject == f"Order {order.reference} returned for changes"
    assert "Dear Eva Braun," in mail.body and "Say which TRL you need" in mail.body
    assert f"{PUBLIC_BASE_URL}/api/v1/orders/{order.id}" in mail.body


async def test_decisions_are_mailed_to_the_proposals_contact(world, notifications):
    partner = await world.partner()
    order = await world.published(partner, title="Catalysts for recycling")
    park = await world.park("Himgrad", ["chemistry"])
    resident = world.resident(await world.known_resident(park, "PolyCycle", ["catalysis"]))
    shortlisted = await _propose(world, order, resident, contact_email="deals@poly.example")
    other = await _propose(world, order, world.park_manager(), contact_email="park@himgrad.example")
    assert await notifications.all() == []  # receiving a proposal tells the proposer nothing

    await transitions.shortlist_proposal(
        session=world.session, principal=partner, proposal_id=shortlisted.id
    )
    await transitions.accept_proposal(
        session=world.session, principal=partner, proposal_id=shortlisted.id, reason="Best fit"
    )
    await transitions.reject_proposal(
        session=world.session,
        principal=partner,
        proposal_id=other.id,
        reason=RejectionReason.PRICE_TOO_HIGH,
        comment="Half would do",
    )
    mails = await notifications.all()
    assert [(m.kind, m.recipient) for m in mails] == [
        ("proposal.shortlisted", "deals@poly.example"),
        ("proposal.accepted", "deals@poly.example"),
        ("proposal.rejected", "park@himgrad.example"),
    ]
    accepted, rejected = mails[1], mails[2]
    assert accepted.subject == f"Your proposal to {order.reference} is accepted"
    assert "Best fit" in accepted.body and "Catalysts for recycling" in accepted.body
    assert "because the price is too high" in rejected.body and "Half would do" in rejected.body
    # The mail never names the partner (whether the proposer may know is the presenters').
    partner_row = await world.partner_row(partner)
    assert not any(partner_row.name in m.body for m in mails)


async def test_an_ending_order_tells_the_proposers_still_waiting(world, notifications):
    partner = await world.partner()
    order = await world.published(partner)
    waiting = await _propose(world, order, world.park_manager(), contact_email="p@park.example")
    await order_transitions.close_order(session=world.session, principal=partner, order_id=order.id)
    [mail] = await notifications.all("proposal.rejected")
    assert mail.recipient == "p@park.example" and "the order has ended" in mail.body
    assert waiting.status == "rejected"


async def _endpoint(world, partner, event_types=()):
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        partner_id=partner.partner_id,
        url="https://hooks.partner.example/innopark",
        secret="whsec_test",
        event_types=list(event_types),
        enabled=True,
        consecutive_failures=0,
    )
    world.session.add(endpoint)
    await world.session.flush()
    return endpoint


async def test_the_feed_hides_what_a_running_transaction_wrote(world):
    partner = await world.partner()
    await world.submitted(partner)
    page = await feed.partner_events(
        session=world.session, principal=partner, cursor=None, limit=10
    )
    assert page.items == []  # this test's transaction is still running


async def test_a_manual_redelivery_settles_the_pending_retry(world, settings):
    partner = await world.partner()
    endpoint = await _endpoint(world, partner)
    await world.submitted(partner)
    [original] = (
        await world.session.scalars(
            sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
        )
    ).all()
    # It failed once and waits for its retry in five minutes.
    original.attempts, original.last_error = 1, "HTTP 503"
    original.next_attempt_at = datetime.now(UTC) + timedelta(minutes=5)
    await world.session.flush()

    again = await webhooks.redeliver(
        session=world.session,
        principal=partner,
        endpoint_id=endpoint.id,
        delivery_id=original.id,
    )
    assert again.id == original.id  # the pending retry itself, due now: no second copy
    assert again.next_attempt_at <= datetime.now(UTC)

    # A copy queued anyway (an older redelivery) is settled when the message gets through.
    copy = WebhookDelivery(
        id=uuid.uuid4(),
        endpoint_id=endpoint.id,
        partner_id=partner.partner_id,
        message_id=original.message_id,
        event_type=original.event_type,
        payload=original.payload,
        status="pending",
        attempts=0,
        next_attempt_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    world.session.add(copy)
    await world.session.flush()
    await delivery._record(
        world.session, original, endpoint, 200, None, 12, datetime.now(UTC), settings
    )
    await world.session.flush()
    await world.session.refresh(copy)
    assert (original.status, copy.status) == ("succeeded", "succeeded")
    assert copy.next_attempt_at is None


async def test_redelivery_from_the_feed(world):
    partner = await world.partner()
    await world.submitted(partner)  # no endpoint then: only in the feed
    [event] = (
        await world.session.scalars(
            sa.select(PartnerEvent).where(PartnerEvent.partner_id == partner.partner_id)
        )
    ).all()
    with pytest.raises(InvalidTransition):
        await feed.redeliver_event(
            session=world.session, principal=partner, message_id=event.message_id, endpoint_id=None
        )
    endpoint = await _endpoint(world, partner, ["order.submitted"])
    await _endpoint(world, partner, ["order.published"])  # does not want it
    [sent] = await feed.redeliver_event(
        session=world.session, principal=partner, message_id=event.message_id, endpoint_id=None
    )
    assert (sent.endpoint_id, sent.message_id, sent.payload) == (
        endpoint.id,
        event.message_id,
        event.payload,
    )
    [again] = await feed.redeliver_event(
        session=world.session, principal=partner, message_id=event.message_id, endpoint_id=None
    )
    assert again.id == sent.id  # still pending: brought forward, not copied
    rival = await world.partner("Rival AG")
    with pytest.raises(NotFound):
        await feed.redeliver_event(
            session=world.session, principal=rival, message_id=event.message_id, endpoint_id=None
        )
