"""Reading proposals: one, or the collection a caller may see."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.errors import NotFound
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..access import get_order, visible_proposals
from ..models import Proposal, ProposalStatus


async def get_proposal(
    *, session: AsyncSession, principal: Principal, proposal_id: uuid.UUID, for_update: bool = False
) -> Proposal:
    stmt = sa.select(Proposal).where(Proposal.id == proposal_id, visible_proposals(principal))
    if for_update:
        stmt = stmt.with_for_update(of=Proposal).execution_options(populate_existing=True)
    proposal = (await session.execute(stmt)).scalar_one_or_none()
    if proposal is None:
        raise NotFound("No such proposal")
    return proposal


async def list_proposals(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID | None,
    status: ProposalStatus | None,
    cursor: str | None,
    limit: int,
) -> Slice[Proposal]:
    """Newest first: to the partner's orders, or the caller's own (of one order if given,
    which the caller must be able to see)."""
    stmt = sa.select(Proposal).where(visible_proposals(principal))
    if order_id is not None:
        order = await get_order(session=session, principal=principal, order_id=order_id)
        stmt = stmt.where(Proposal.order_id == order.id)
    if status:
        stmt = stmt.where(Proposal.status == status)
    return await paginate(
        session,
        stmt,
        order_by=[Proposal.created_at, Proposal.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )
