"""Making a proposal, and announcing what happens to proposals. They flush, never
commit: the caller owns the transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.contracts import IntegrationEvent
from innopark_shared.contracts.orders import (
    ProposalAcceptedV1,
    ProposalReceivedV1,
    ProposalRejectedV1,
    ProposalShortlistedV1,
    ProposalWithdrawnV1,
)
from innopark_shared.errors import Conflict, Forbidden, InvalidTransition
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..access import (
    get_order,
    is_proposer,
    proposer_of,
    proposer_reference,
    proposer_revealed,
)
from ..models import (
    KnownResident,
    Order,
    OrderStatus,
    Proposal,
    ProposalAction,
    ProposalStatus,
    known_parks,
    outbox,
)
from ..webhooks.delivery import notify_partner
from ..webhooks.schemas import WebhookEventType
from . import notices
from .schemas import ProposalCreate

# What each action tells the outbox and the partner's webhooks.
EVENTS: dict[ProposalAction, tuple[type[IntegrationEvent], WebhookEventType]] = {
    ProposalAction.RECEIVE: (ProposalReceivedV1, WebhookEventType.PROPOSAL_RECEIVED),
    ProposalAction.SHORTLIST: (ProposalShortlistedV1, WebhookEventType.PROPOSAL_SHORTLISTED),
    ProposalAction.ACCEPT: (ProposalAcceptedV1, WebhookEventType.PROPOSAL_ACCEPTED),
    ProposalAction.REJECT: (ProposalRejectedV1, WebhookEventType.PROPOSAL_REJECTED),
    ProposalAction.WITHDRAW: (ProposalWithdrawnV1, WebhookEventType.PROPOSAL_WITHDRAWN),
}


async def announce(
    session: AsyncSession,
    proposal: Proposal,
    order: Order,
    action: ProposalAction,
    *,
    previous: str | None,
    reason: str | None,
) -> None:
    """The proposal's event to the outbox and to the partner's webhooks; a decision is
    mailed to the proposer (`notices.py`)."""
    event_cls, webhook = EVENTS[action]
    extra: dict[str, Any] = {}
    if action is ProposalAction.RECEIVE:
        extra["summary"] = proposal.summary
    if action is ProposalAction.REJECT:
        extra["rejection_reason"] = proposal.rejection_reason
    event = event_cls(
        proposal_id=proposal.id,
        order_id=order.id,
        order_reference=order.reference,
        partner_id=None if order.confidential else order.partner_id,
        proposer_kind=proposal.proposer_kind,
        resident_id=proposal.proposer_id if proposal.proposer_kind == "resident" else None,
        park_id=proposal.proposer_id if proposal.proposer_kind == "park" else None,
        status=proposal.status,
        previous_status=previous,
        reason=reason,
        occurred_at=datetime.now(UTC),
        **extra,
    )
    await outbox.add(session, event)
    # The partner's webhook, like its views, names the proposer only after the shortlist.
    shown: dict[str, Any] = {"proposer_reference": proposer_reference(proposal)}
    if not proposer_revealed(proposal):
        shown |= {"resident_id": None, "park_id": None}
    await notify_partner(
        session, event, partner_id=order.partner_id, event_type=webhook, overrides=shown
    )
    await notices.tell_proposer(session, proposal, order, action)


async def _proposer_name_and_email(
    session: AsyncSession, principal: Principal, data: ProposalCreate
) -> tuple[str | None, str | None]:
    """From the read models: the resident's (or park's) name, and the contact to reveal."""
    kind, proposer_id = proposer_of(principal)
    if kind == "resident":
        known = await session.get(KnownResident, proposer_id)
        name = known.name if known else None
        email = data.contact_email or (known.contact_email if known else None) or principal.email
        return name, email
    park = (
        await session.execute(
            sa.select(known_parks.c.name).where(known_parks.c.park_id == proposer_id)
        )
    ).first()
    return (park.name if park else None), data.contact_email or principal.email


async def create_proposal(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, data: ProposalCreate
) -> Proposal:
    """A resident or park manager proposes to a published order: one live proposal each."""
    if not is_proposer(principal):
        raise Forbidden("Only residents and park managers propose solutions")
    order = await get_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    if order.status != OrderStatus.PUBLISHED:
        raise InvalidTransition(
            f"Proposals are taken only while the order is published; it is {order.status}",
            current_status=order.status,
        )
    kind, proposer_id = proposer_of(principal)
    name, email = await _proposer_name_and_email(session, principal, data)
    proposal = Proposal(
        id=uuid.uuid4(),
        order_id=order.id,
        order=order,
        partner_id=order.partner_id,
        proposer_kind=kind,
        proposer_id=proposer_id,
        proposer_name=name,
        proposer_email=email,
        status=ProposalStatus.SUBMITTED,
        created_by=principal.subject,
        **data.model_dump(exclude={"contact_email"}),
    )
    try:
        async with session.begin_nested():
            session.add(proposal)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "You already have a live proposal for this order; withdraw it first"
        ) from exc
    await announce(session, proposal, order, ProposalAction.RECEIVE, previous=None, reason=None)
    return proposal
