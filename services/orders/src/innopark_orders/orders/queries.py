"""Reading orders: the collections a caller may see, an order's history and matches."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.db import contains_pattern
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..access import get_owned_order, known_requester, proposer_of, visible_orders
from ..models import Order, OrderMatch, OrderStatus, OrderTransition


async def list_orders(
    *,
    session: AsyncSession,
    principal: Principal,
    status: OrderStatus | None,
    q: str | None,
    partner_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Slice[Order]:
    """The orders `principal` may see, newest first; `q` searches title, description,
    reference and (exactly) the technology tags."""
    stmt = sa.select(Order).where(visible_orders(principal))
    if status:
        stmt = stmt.where(Order.status == status)
    if partner_id:
        # A confidential order's requester is NULL here for whoever may not know it.
        stmt = stmt.where(known_requester(principal) == partner_id)
    if q:
        pattern = contains_pattern(q)
        stmt = stmt.where(
            sa.or_(
                Order.title.ilike(pattern),
                Order.description.ilike(pattern),
                Order.reference.ilike(pattern),
                sa.literal(q.strip().lower()) == sa.any_(Order.technology_tags),
            )
        )
    return await _newest_first(session, stmt, cursor=cursor, limit=limit)


async def list_matched_orders(
    *, session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Slice[Order]:
    """Published orders that matching ranked the caller's resident company (or park) for."""
    if principal.role not in (Role.RESIDENT, Role.PARK_MANAGER):
        return Slice([])
    kind, target_id = proposer_of(principal)
    stmt = sa.select(Order).where(
        visible_orders(principal),
        Order.status == OrderStatus.PUBLISHED,
        sa.exists().where(
            OrderMatch.order_id == Order.id,
            OrderMatch.target_kind == kind,
            OrderMatch.target_id == target_id,
        ),
    )
    return await _newest_first(session, stmt, cursor=cursor, limit=limit)


async def _newest_first(
    session: AsyncSession, stmt: sa.Select, *, cursor: str | None, limit: int
) -> Slice[Order]:
    return await paginate(
        session,
        stmt,
        order_by=[Order.created_at, Order.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


async def list_transitions(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID
) -> list[OrderTransition]:
    """The order's history, oldest first (its partner and operators)."""
    order = await get_owned_order(session=session, principal=principal, order_id=order_id)
    return list(
        (
            await session.execute(
                sa.select(OrderTransition)
                .where(OrderTransition.order_id == order.id)
                .order_by(OrderTransition.id)
            )
        ).scalars()
    )


async def list_matches(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID
) -> list[OrderMatch]:
    """Parks then residents, each by rank (its partner and operators)."""
    order = await get_owned_order(session=session, principal=principal, order_id=order_id)
    return list(
        (
            await session.execute(
                sa.select(OrderMatch)
                .where(OrderMatch.order_id == order.id)
                .order_by(OrderMatch.target_kind, OrderMatch.rank)
            )
        ).scalars()
    )
