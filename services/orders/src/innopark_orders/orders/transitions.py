"""The order lifecycle, one named operation per transition:

    draft --submit--> submitted --publish--> published --award--> awarded
      ^                   |                      |------close--> closed
      +------return-------+                      |
    draft | submitted | published --cancel--> cancelled
    submitted | published --expire (the deadline passed)--> expired

Each checks who may do it and from which states (an invalid one is `InvalidTransition`,
a 409), records who, when and why in the order's history, writes the lifecycle event to
the outbox and queues it for the partner's webhooks (a returned order is also mailed to the
partner, `notices.py`), all in the caller's transaction.
An order that ends rejects the proposals still open on it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.contracts import IntegrationEvent
from innopark_shared.contracts.orders import (
    OrderAwardedV1,
    OrderCancelledV1,
    OrderClosedV1,
    OrderExpiredV1,
    OrderPublishedV1,
    OrderReturnedV1,
    OrderSubmittedV1,
)
from innopark_shared.errors import Forbidden, InvalidTransition
from innopark_shared.http import check_if_match
from sqlalchemy.ext.asyncio import AsyncSession

from .. import history
from ..access import get_owned_order
from ..config import OrdersSettings
from ..history import SYSTEM
from ..models import ORDER_ENDED, Order, OrderAction, OrderMatch, OrderStatus, outbox
from ..proposals.transitions import awarded_proposal, reject_open_proposals
from ..webhooks.delivery import notify_partner
from ..webhooks.schemas import WebhookEventType
from . import matching, notices
from .queries import list_matches

S = OrderStatus
PARTNER, OPERATOR = frozenset({Role.PARTNER}), frozenset({Role.OPERATOR})
EITHER = PARTNER | OPERATOR


@dataclass(frozen=True)
class Rule:
    sources: frozenset[OrderStatus]
    target: OrderStatus
    # Who may: the order's own partner and/or the association; nobody for what only the
    # service itself does (expiry).
    roles: frozenset[Role]
    event: type[IntegrationEvent]  # an order lifecycle event (`_OrderTransitionV1`)
    webhook: WebhookEventType


RULES: dict[OrderAction, Rule] = {
    OrderAction.SUBMIT: Rule(
        frozenset({S.DRAFT}), S.SUBMITTED, PARTNER, OrderSubmittedV1,
        WebhookEventType.ORDER_SUBMITTED,
    ),
    OrderAction.RETURN: Rule(
        frozenset({S.SUBMITTED}), S.DRAFT, OPERATOR, OrderReturnedV1,
        WebhookEventType.ORDER_RETURNED,
    ),
    OrderAction.PUBLISH: Rule(
        frozenset({S.SUBMITTED}), S.PUBLISHED, OPERATOR, OrderPublishedV1,
        WebhookEventType.ORDER_PUBLISHED,
    ),
    OrderAction.CANCEL: Rule(
        frozenset({S.DRAFT, S.SUBMITTED, S.PUBLISHED}), S.CANCELLED, EITHER, OrderCancelledV1,
        WebhookEventType.ORDER_CANCELLED,
    ),
    OrderAction.CLOSE: Rule(
        frozenset({S.PUBLISHED}), S.CLOSED, EITHER, OrderClosedV1,
        WebhookEventType.ORDER_CLOSED,
    ),
    OrderAction.AWARD: Rule(
        frozenset({S.PUBLISHED}), S.AWARDED, EITHER, OrderAwardedV1,
        WebhookEventType.ORDER_AWARDED,
    ),
    OrderAction.EXPIRE: Rule(
        frozenset({S.SUBMITTED, S.PUBLISHED}), S.EXPIRED, frozenset(), OrderExpiredV1,
        WebhookEventType.ORDER_EXPIRED,
    ),
}  # fmt: skip
# Actions that are not transitions, and who may do them.
OTHER_ROLES: dict[OrderAction, frozenset[Role]] = {OrderAction.REMATCH: OPERATOR}


def may(action: OrderAction) -> frozenset[Role]:
    """The roles that may do `action` (routes declare them; the operations check them)."""
    return RULES[action].roles if action in RULES else OTHER_ROLES[action]


def _now() -> datetime:
    return datetime.now(UTC)


def _check_role(principal: Principal, action: OrderAction) -> None:
    if principal is not SYSTEM and principal.role not in may(action):
        raise Forbidden(f"You may not {action} an order")


async def _begin(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    action: OrderAction,
    *,
    if_match: str | None = None,
) -> Order:
    """The order, locked, once `principal` may do `action` to it in its current state."""
    _check_role(principal, action)
    order = await get_owned_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    check_if_match(if_match, order.id, order.version)
    rule = RULES[action]
    if order.status not in rule.sources:
        raise InvalidTransition(
            f"Cannot {action} an order that is {order.status}",
            current_status=order.status,
            allowed_from=sorted(rule.sources),
        )
    return order


async def _finish(
    session: AsyncSession,
    order: Order,
    action: OrderAction,
    *,
    actor: Principal,
    reason: str | None,
    proposal_id: uuid.UUID | None = None,
    settings: OrdersSettings | None = None,
) -> Order:
    """Move `order` to the rule's target; history, open proposals, matching, event."""
    rule = RULES[action]
    previous = order.status
    order.status = rule.target
    order.updated_at = _now()
    history.record(
        session,
        order,
        action,
        from_status=previous,
        actor=actor,
        reason=reason,
        proposal_id=proposal_id,
    )
    await session.flush()
    if rule.target in ORDER_ENDED:
        await reject_open_proposals(session, order, actor, keep=proposal_id)
    extra: dict[str, Any] = {}
    if action is OrderAction.PUBLISH:
        assert settings is not None
        parks, residents = await matching.match_order(session, order=order, settings=settings)
        extra = {"matched_parks": len(parks), "matched_residents": len(residents)}
    if action is OrderAction.AWARD:
        extra = {"awarded_proposal_id": proposal_id}
    event = rule.event(
        order_id=order.id,
        reference=order.reference,
        partner_id=None if order.confidential else order.partner_id,
        title=order.title,
        technology_tags=list(order.technology_tags),
        status=order.status,
        previous_status=previous,
        actor_role=history.actor_role(actor),
        reason=reason,
        deadline=order.deadline,
        occurred_at=_now(),
        **extra,
    )
    await outbox.add(session, event)
    await notify_partner(session, event, partner_id=order.partner_id, event_type=rule.webhook)
    if action is OrderAction.RETURN:
        await notices.order_returned(session, order)
    return order


def _deadline_open(order: Order) -> None:
    if order.deadline <= _now():
        raise InvalidTransition("The order's deadline has passed", current_status=order.status)


async def submit_order(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    reason: str | None = None,
    if_match: str | None = None,
) -> Order:
    """Its partner submits a draft for moderation."""
    order = await _begin(session, principal, order_id, OrderAction.SUBMIT, if_match=if_match)
    _deadline_open(order)
    return await _finish(session, order, OrderAction.SUBMIT, actor=principal, reason=reason)


async def return_order(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, comment: str
) -> Order:
    """The association sends a submitted order back to draft with what to fix."""
    order = await _begin(session, principal, order_id, OrderAction.RETURN)
    order.moderation_comment = comment
    return await _finish(session, order, OrderAction.RETURN, actor=principal, reason=comment)


async def publish_order(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    settings: OrdersSettings,
    reason: str | None = None,
) -> Order:
    """The association publishes a submitted order; it is matched at once."""
    order = await _begin(session, principal, order_id, OrderAction.PUBLISH)
    _deadline_open(order)
    order.published_at = _now()
    order.moderation_comment = None
    return await _finish(
        session, order, OrderAction.PUBLISH, actor=principal, reason=reason, settings=settings
    )


async def cancel_order(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, reason: str | None = None
) -> Order:
    """Its partner (or the association) withdraws the order before it is decided."""
    order = await _begin(session, principal, order_id, OrderAction.CANCEL)
    return await _finish(session, order, OrderAction.CANCEL, actor=principal, reason=reason)


async def close_order(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, reason: str | None = None
) -> Order:
    """A published order ends without an award."""
    order = await _begin(session, principal, order_id, OrderAction.CLOSE)
    return await _finish(session, order, OrderAction.CLOSE, actor=principal, reason=reason)


async def award_order(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    proposal_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> Order:
    """A published order goes to its accepted proposal (`proposal_id`, or the only one)."""
    order = await _begin(session, principal, order_id, OrderAction.AWARD)
    awarded = await awarded_proposal(session, order, proposal_id)
    order.awarded_proposal_id = awarded
    return await _finish(
        session, order, OrderAction.AWARD, actor=principal, reason=reason, proposal_id=awarded
    )


async def expire_order(*, session: AsyncSession, order_id: uuid.UUID) -> Order:
    """The service expires an order whose deadline has passed (nobody else may)."""
    order = await _begin(session, SYSTEM, order_id, OrderAction.EXPIRE)
    if order.deadline > _now():
        raise InvalidTransition("The order's deadline has not passed", current_status=order.status)
    return await _finish(
        session, order, OrderAction.EXPIRE, actor=SYSTEM, reason="The deadline passed"
    )


async def expire_due_orders(*, session: AsyncSession, limit: int = 100) -> int:
    """Expire up to `limit` orders past their deadline (rows another sweep holds are left
    to it); how many."""
    due = (
        (
            await session.execute(
                sa.select(Order.id)
                .where(
                    Order.status.in_(list(RULES[OrderAction.EXPIRE].sources)),
                    Order.deadline <= _now(),  # the clock `expire_order` checks
                )
                .order_by(Order.deadline)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for order_id in due:
        await expire_order(session=session, order_id=order_id)
    return len(due)


async def rematch_order(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, settings: OrdersSettings
) -> list[OrderMatch]:
    """The association matches a published order again against the current read model."""
    _check_role(principal, OrderAction.REMATCH)
    order = await get_owned_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    if order.status != OrderStatus.PUBLISHED:
        raise InvalidTransition("Only a published order is matched", current_status=order.status)
    await matching.match_order(session, order=order, settings=settings)
    history.record(
        session, order, OrderAction.REMATCH, from_status=order.status, actor=principal, reason=None
    )
    await session.flush()
    return await list_matches(session=session, principal=principal, order_id=order_id)
