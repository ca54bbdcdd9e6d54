"""The audit trail of an order: every transition, and every decision on its proposals,
with who made it, when and why."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from innopark_shared.auth import Principal, Role
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Order, OrderAction, OrderTransition, ProposalAction

# The service itself, for what happens on its own (an order expiring at its deadline).
SYSTEM = Principal(subject="system", role=Role.OPERATOR)


def actor_role(principal: Principal) -> str:
    return "system" if principal is SYSTEM else str(principal.role)


def record(
    session: AsyncSession,
    order: Order,
    action: OrderAction | ProposalAction,
    *,
    from_status: str | None,
    actor: Principal,
    reason: str | None,
    proposal_id: uuid.UUID | None = None,
) -> OrderTransition:
    """Add a history row for `order` (now in its new status) to the transaction."""
    entry = OrderTransition(
        order_id=order.id,
        action=action.history_action if isinstance(action, ProposalAction) else action.value,
        from_status=from_status,
        to_status=order.status,
        actor_subject=actor.subject,
        actor_role=actor_role(actor),
        reason=reason,
        proposal_id=proposal_id,
        at=datetime.now(UTC),
    )
    session.add(entry)
    return entry
