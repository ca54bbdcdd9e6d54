"""The proposal lifecycle, one named operation per transition:

    submitted --shortlist--> shortlisted --accept--> accepted
    submitted | shortlisted --reject (with a structured reason)--> rejected
    submitted | shortlisted --withdraw (by its proposer)--> withdrawn

The order's partner (or the association) decides; the proposer withdraws its own. While
the order is published only: once it ends, its open proposals are rejected as
`order_closed` (`reject_open_proposals`). Each decision is in the order's history and
goes out as an event and to the partner's webhooks.

Locks are taken order first, then proposal, as the order's own transitions do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.errors import Forbidden, InvalidTransition, Unprocessable
from sqlalchemy.ext.asyncio import AsyncSession

from .. import history
from ..models import (
    Order,
    OrderStatus,
    Proposal,
    ProposalAction,
    ProposalStatus,
    RejectionReason,
)
from .queries import get_proposal
from .service import announce

P = ProposalStatus
PARTNER_SIDE = frozenset({Role.PARTNER, Role.OPERATOR})
PROPOSER_SIDE = frozenset({Role.RESIDENT, Role.PARK_MANAGER})


@dataclass(frozen=True)
class Rule:
    sources: frozenset[ProposalStatus]
    target: ProposalStatus
    roles: frozenset[Role]


RULES: dict[ProposalAction, Rule] = {
    ProposalAction.SHORTLIST: Rule(frozenset({P.SUBMITTED}), P.SHORTLISTED, PARTNER_SIDE),
    ProposalAction.ACCEPT: Rule(frozenset({P.SHORTLISTED}), P.ACCEPTED, PARTNER_SIDE),
    ProposalAction.REJECT: Rule(frozenset({P.SUBMITTED, P.SHORTLISTED}), P.REJECTED, PARTNER_SIDE),
    ProposalAction.WITHDRAW: Rule(
        frozenset({P.SUBMITTED, P.SHORTLISTED}), P.WITHDRAWN, PROPOSER_SIDE
    ),
}
# Still waiting for an answer: what an ended order rejects.
OPEN = frozenset({P.SUBMITTED, P.SHORTLISTED, P.ACCEPTED})


def may(action: ProposalAction) -> frozenset[Role]:
    """The roles that may do `action` (routes declare them; the operations check them)."""
    return RULES[action].roles


async def _decide(
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    action: ProposalAction,
    *,
    reason: str | None,
    rejection: RejectionReason | None = None,
) -> Proposal:
    rule = RULES[action]
    if principal.role not in rule.roles:
        # Both sides see the proposal; only one may do this to it.
        raise Forbidden(f"You may not {action} this proposal")
    seen = await get_proposal(session=session, principal=principal, proposal_id=proposal_id)
    order = (
        await session.execute(
            sa.select(Order)
            .where(Order.id == seen.order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    proposal = await get_proposal(
        session=session, principal=principal, proposal_id=proposal_id, for_update=True
    )
    if proposal.status not in rule.sources:
        raise InvalidTransition(
            f"Cannot {action} a proposal that is {proposal.status}",
            current_status=proposal.status,
            allowed_from=sorted(rule.sources),
        )
    if action is not ProposalAction.WITHDRAW and order.status != OrderStatus.PUBLISHED:
        raise InvalidTransition(
            f"The order is {order.status}; its proposals are final", order_status=order.status
        )
    previous = proposal.status
    proposal.status = rule.target
    if rejection is not None:
        proposal.rejection_reason = rejection.value
    if reason or rejection is not None:
        proposal.status_comment = reason
    proposal.updated_at = datetime.now(UTC)
    await session.flush()
    noted = rejection.value if rejection is not None else reason
    history.record(
        session,
        order,
        action,
        from_status=order.status,
        actor=principal,
        reason=noted,
        proposal_id=proposal.id,
    )
    await session.flush()
    await announce(session, proposal, order, action, previous=previous, reason=noted)
    return proposal


async def shortlist_proposal(
    *,
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    reason: str | None = None,
) -> Proposal:
    """The partner shortlists: from now on each side sees the other's contact."""
    return await _decide(session, principal, proposal_id, ProposalAction.SHORTLIST, reason=reason)


async def accept_proposal(
    *,
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    reason: str | None = None,
) -> Proposal:
    """The partner accepts a shortlisted proposal (the order can then be awarded to it)."""
    return await _decide(session, principal, proposal_id, ProposalAction.ACCEPT, reason=reason)


async def reject_proposal(
    *,
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    reason: RejectionReason,
    comment: str | None = None,
) -> Proposal:
    """The partner rejects with a structured reason (and a comment for the proposer)."""
    if reason is RejectionReason.ORDER_CLOSED:
        raise Unprocessable.for_field(
            "reason", "order_closed is set by the service when an order ends"
        )
    return await _decide(
        session, principal, proposal_id, ProposalAction.REJECT, reason=comment, rejection=reason
    )


async def withdraw_proposal(
    *,
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    reason: str | None = None,
) -> Proposal:
    """The proposer takes its proposal back (it may then propose again)."""
    return await _decide(session, principal, proposal_id, ProposalAction.WITHDRAW, reason=reason)


# -- what the order's own transitions need -------------------------------------------------


async def awarded_proposal(
    session: AsyncSession, order: Order, proposal_id: uuid.UUID | None
) -> uuid.UUID:
    """The accepted proposal an award goes to: `proposal_id`, or the only accepted one."""
    accepted = (
        (
            await session.execute(
                sa.select(Proposal.id).where(
                    Proposal.order_id == order.id, Proposal.status == ProposalStatus.ACCEPTED
                )
            )
        )
        .scalars()
        .all()
    )
    if proposal_id is not None:
        if proposal_id not in accepted:
            raise InvalidTransition("Only an accepted proposal of this order can be awarded")
        return proposal_id
    if len(accepted) != 1:
        raise InvalidTransition(
            "Award needs exactly one accepted proposal (or name one with proposal_id)",
            accepted=len(accepted),
        )
    return accepted[0]


async def reject_open_proposals(
    session: AsyncSession, order: Order, actor: Principal, *, keep: uuid.UUID | None
) -> int:
    """When an order ends, every proposal still waiting on it (submitted, shortlisted, or
    accepted but not the one awarded) is rejected as `order_closed`, so each proposer
    hears the outcome (event, webhook and history entry) instead of waiting for ever."""
    stmt = (
        sa.select(Proposal)
        .where(Proposal.order_id == order.id, Proposal.status.in_(list(OPEN)))
        .order_by(Proposal.created_at, Proposal.id)
        .with_for_update(of=Proposal)
        .execution_options(populate_existing=True)
    )
    comment = f"The order was {order.status}"
    closed = RejectionReason.ORDER_CLOSED.value
    rejected = 0
    for proposal in (await session.execute(stmt)).scalars().all():
        if proposal.id == keep:
            continue
        previous = proposal.status
        proposal.status = ProposalStatus.REJECTED
        proposal.rejection_reason = closed
        proposal.status_comment = comment
        proposal.updated_at = datetime.now(UTC)
        await session.flush()
        history.record(
            session,
            order,
            ProposalAction.REJECT,
            from_status=order.status,
            actor=actor,
            reason=comment,
            proposal_id=proposal.id,
        )
        await announce(
            session, proposal, order, ProposalAction.REJECT, previous=previous, reason=closed
        )
        rejected += 1
    return rejected
