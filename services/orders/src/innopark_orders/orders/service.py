"""Posting and editing orders. They flush, never commit: the caller owns the transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.errors import InvalidTransition, NotFound, Unprocessable
from innopark_shared.http import check_if_match
from sqlalchemy.ext.asyncio import AsyncSession

from .. import history
from ..access import get_owned_order
from ..models import Order, OrderAction, OrderStatus, Partner, order_reference_seq
from .schemas import OrderCreate, OrderUpdate

# The country a confidential order's reference shows instead of its partner's: ISO 3166's
# user-assigned "unknown". The reference travels everywhere (views, search, events, mail),
# so it must not narrow down the requester the order hides.
UNDISCLOSED_COUNTRY = "XX"


def reference_country(*, confidential: bool, partner_country: str) -> str:
    return UNDISCLOSED_COUNTRY if confidential else partner_country


def with_reference_country(reference: str, country: str) -> str:
    """`reference` (`TO` + country + year + number) naming `country` instead."""
    return f"{reference[:2]}{country}{reference[4:]}"


async def _next_reference(session: AsyncSession, country: str) -> str:
    """EEN-style reference: `TO` + country + year + number, e.g. `TORU2026000042`; the
    number comes from one sequence, so it is unique whatever the country part says."""
    number = (await session.execute(sa.select(order_reference_seq.next_value()))).scalar_one()
    return f"TO{country}{datetime.now(UTC).year}{number:06d}"


async def create_order(*, session: AsyncSession, principal: Principal, data: OrderCreate) -> Order:
    """A draft order of the caller's partner corporation."""
    partner = await session.get(Partner, principal.partner_id) if principal.partner_id else None
    if partner is None:
        raise NotFound("Your partner corporation is not registered with the orders service")
    values = data.model_dump()
    values["cooperation_types"] = [str(c) for c in data.cooperation_types]
    now = datetime.now(UTC)
    order = Order(
        id=uuid.uuid4(),
        reference=await _next_reference(
            session,
            reference_country(confidential=data.confidential, partner_country=partner.country),
        ),
        partner_id=partner.id,
        partner=partner,
        status=OrderStatus.DRAFT,
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
        **values,
    )
    session.add(order)
    await session.flush()
    history.record(
        session, order, OrderAction.CREATE, from_status=None, actor=principal, reason=None
    )
    await session.flush()
    return order


async def update_order(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    data: OrderUpdate,
    if_match: str | None,
) -> Order:
    """Change a draft (its partner): only the fields sent; null clears an optional one."""
    order = await get_owned_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    check_if_match(if_match, order.id, order.version)
    if order.status != OrderStatus.DRAFT:
        raise InvalidTransition(
            f"Only a draft can be edited; this order is {order.status}", current_status=order.status
        )
    for field, value in data.changes().items():
        if field == "cooperation_types":
            value = [str(c) for c in value]
        setattr(order, field, value)
    # Only a draft changes here, seen by nobody but its partner and the association: its
    # reference may follow its confidentiality.
    order.reference = with_reference_country(
        order.reference,
        reference_country(confidential=order.confidential, partner_country=order.partner.country),
    )
    if (
        order.budget_min is not None
        and order.budget_max is not None
        and order.budget_max < order.budget_min
    ):
        raise Unprocessable.for_field(
            "budget_max", "below budget_min", detail="budget_max must not be below budget_min"
        )
    order.updated_at = datetime.now(UTC)
    await session.flush()
    return order
