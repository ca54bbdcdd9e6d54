"""Object-level access, in one place: who may see which orders and proposals.

A partner reaches only its own orders and the proposals to them; residents and park
managers reach published orders (and those they proposed to, after publication) and
their own proposals. Whatever a caller may not see answers exactly like what does not
exist (404).

Who posted a confidential order is known only to that partner and the association. The
rule lives here once, as SQL (`known_requester`) for every filter, search and sort on the
requester, and as Python (`knows_requester`) for the presenters, so no read path can ask
`Order.partner_id` directly and learn what the caller may not know.
"""

from __future__ import annotations

import hashlib
import uuid

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.errors import NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Order, OrderStatus, Proposal, ProposalStatus

# Once published, an order stays visible to those who proposed to it, whatever its end.
AFTER_PUBLICATION = frozenset(
    {OrderStatus.PUBLISHED, OrderStatus.AWARDED, OrderStatus.CLOSED, OrderStatus.EXPIRED}
)


def proposer_of(principal: Principal) -> tuple[str, uuid.UUID | None]:
    """(`resident` | `park`, id): what a resident or park manager proposes as."""
    if principal.role is Role.RESIDENT:
        return "resident", principal.resident_id
    return "park", principal.park_id


def visible_orders(principal: Principal) -> sa.ColumnElement[bool]:
    """The orders `principal` may see at all."""
    if principal.is_operator:
        return sa.true()
    if principal.role is Role.PARTNER:
        return Order.partner_id == principal.partner_id
    if principal.role in (Role.RESIDENT, Role.PARK_MANAGER):
        _, proposer_id = proposer_of(principal)
        proposed = sa.exists().where(
            Proposal.order_id == Order.id, Proposal.proposer_id == proposer_id
        )
        return sa.or_(
            Order.status == OrderStatus.PUBLISHED,
            sa.and_(Order.status.in_(list(AFTER_PUBLICATION)), proposed),
        )
    return sa.false()


def owns(principal: Principal, order: Order) -> bool:
    """The order's own partner, or the association."""
    return principal.is_operator or (
        principal.role is Role.PARTNER and principal.partner_id == order.partner_id
    )


def requester_known(principal: Principal) -> sa.ColumnElement[bool]:
    """Whether `principal` may know which partner posted the order."""
    if principal.is_operator:
        return sa.true()
    if principal.role is Role.PARTNER:
        return sa.or_(Order.confidential.is_(False), Order.partner_id == principal.partner_id)
    return Order.confidential.is_(False)


def known_requester(principal: Principal) -> sa.ColumnElement[uuid.UUID | None]:
    """The order's partner as `principal` may know it: NULL where it is confidential to
    them. Filter, search and sort on this, never on `Order.partner_id`."""
    return sa.case((requester_known(principal), Order.partner_id), else_=sa.null())


def knows_requester(principal: Principal, order: Order) -> bool:
    """`requester_known` for an order already loaded (the presenters)."""
    return not order.confidential or owns(principal, order)


async def get_order(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, for_update: bool = False
) -> Order:
    """An order `principal` may see (locked for the transaction with `for_update`)."""
    stmt = sa.select(Order).where(Order.id == order_id, visible_orders(principal))
    if for_update:
        stmt = stmt.with_for_update(of=Order).execution_options(populate_existing=True)
    order = (await session.execute(stmt)).scalar_one_or_none()
    if order is None:
        raise NotFound("No such order")
    return order


async def get_owned_order(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, for_update: bool = False
) -> Order:
    """An order of `principal`'s own partner (or any, for operators); else 404."""
    order = await get_order(
        session=session, principal=principal, order_id=order_id, for_update=for_update
    )
    if not owns(principal, order):
        raise NotFound("No such order")
    return order


def visible_proposals(principal: Principal) -> sa.ColumnElement[bool]:
    """The proposals `principal` may see: to its partner's orders, or its own."""
    if principal.is_operator:
        return sa.true()
    if principal.role is Role.PARTNER:
        return Proposal.partner_id == principal.partner_id
    if principal.role in (Role.RESIDENT, Role.PARK_MANAGER):
        kind, proposer_id = proposer_of(principal)
        return sa.and_(Proposal.proposer_kind == kind, Proposal.proposer_id == proposer_id)
    return sa.false()


def is_proposer(principal: Principal) -> bool:
    return principal.role in (Role.RESIDENT, Role.PARK_MANAGER)


# Double opt-in: once the partner has shortlisted a proposal, each side learns the other.
REVEALED = frozenset({ProposalStatus.SHORTLISTED, ProposalStatus.ACCEPTED})


def proposer_revealed(proposal: Proposal) -> bool:
    """Whether the partner may know who made `proposal` (its id, name and contact)."""
    return proposal.status in REVEALED


def proposer_known_to(viewer: Principal, proposal: Proposal) -> bool:
    """The proposer itself and the association always; the partner after shortlisting."""
    return viewer.is_operator or is_proposer(viewer) or proposer_revealed(proposal)


def proposer_reference(proposal: Proposal) -> str:
    """An opaque name for the proposer of this one proposal: stable, unlinkable to the
    proposer's other proposals and to its registry id."""
    digest = hashlib.sha256(b"innopark-proposer:" + proposal.id.bytes).hexdigest()
    return f"PR-{digest[:16].upper()}"
