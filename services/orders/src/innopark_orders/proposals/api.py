"""Proposal routes: `/api/v1/orders/{id}/proposals` (propose, list an order's) and
`/api/v1/proposals` (read, decide, withdraw)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from innopark_shared.auth import Principal, require_roles, require_scopes_by_method
from innopark_shared.db import SessionDep
from innopark_shared.http import etag_of
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..deps import OrderReader, Proposer, ReasonBody, tag
from ..idempotency import Created, IdempotencyDep
from ..models import Proposal, ProposalAction, ProposalStatus
from . import queries, service, transitions
from .presenters import present_proposal
from .schemas import ProposalCreate, ProposalRead, RejectBody

router = APIRouter(
    prefix="/api/v1",
    tags=["proposals"],
    # API clients and keys: what their scope allows (people: their role).
    dependencies=[
        Depends(
            require_scopes_by_method(
                read="orders:read",
                write="proposals:write",
                actions={a: "proposals:decide" for a in ("shortlist", "accept", "reject")},
            )
        )
    ],
)


def _may(action: ProposalAction) -> Any:
    """The route dependency of `action`: the roles its rule allows."""
    return Depends(require_roles(*transitions.may(action)))


@router.post(
    "/orders/{order_id}/proposals",
    status_code=201,
    response_model=ProposalRead,
    summary="Propose a solution to a published order (residents, park managers)",
)
async def create_proposal(
    order_id: UUID,
    body: ProposalCreate,
    session: SessionDep,
    principal: Proposer,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    async def create() -> Created:
        proposal = await service.create_proposal(
            session=session, principal=principal, order_id=order_id, data=body
        )
        headers = {
            "Location": f"/api/v1/proposals/{proposal.id}",
            "ETag": etag_of(proposal.id, proposal.version),
        }
        return 201, present_proposal(proposal, principal), headers

    return await idempotency.run(create)


@router.get("/orders/{order_id}/proposals", response_model=Page[ProposalRead])
async def list_order_proposals(
    order_id: UUID,
    session: SessionDep,
    principal: OrderReader,
    status: ProposalStatus | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ProposalRead]:
    proposals = await queries.list_proposals(
        session=session,
        principal=principal,
        order_id=order_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return proposals.present(lambda p: present_proposal(p, principal))


@router.get(
    "/proposals",
    response_model=Page[ProposalRead],
    summary="Proposals the caller may see (partners: to their orders; residents and "
    "parks: their own)",
)
async def list_proposals(
    session: SessionDep,
    principal: OrderReader,
    status: ProposalStatus | None = None,
    order_id: UUID | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ProposalRead]:
    proposals = await queries.list_proposals(
        session=session,
        principal=principal,
        order_id=order_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return proposals.present(lambda p: present_proposal(p, principal))


@router.get("/proposals/{proposal_id}", response_model=ProposalRead)
async def get_proposal(
    proposal_id: UUID, session: SessionDep, principal: OrderReader, response: Response
) -> ProposalRead:
    proposal = await queries.get_proposal(
        session=session, principal=principal, proposal_id=proposal_id
    )
    return _answer(response, proposal, principal)


def _answer(response: Response, proposal: Proposal, principal: Principal) -> ProposalRead:
    tag(response, proposal.id, proposal.version)
    return present_proposal(proposal, principal)


@router.post(
    "/proposals/{proposal_id}/shortlist",
    response_model=ProposalRead,
    summary="Shortlist (the order's partner): both contacts are revealed",
)
async def shortlist_proposal(
    proposal_id: UUID,
    session: SessionDep,
    principal: Annotated[Principal, _may(ProposalAction.SHORTLIST)],
    response: Response,
    body: ReasonBody | None = None,
) -> ProposalRead:
    proposal = await transitions.shortlist_proposal(
        session=session,
        principal=principal,
        proposal_id=proposal_id,
        reason=body.reason if body else None,
    )
    return _answer(response, proposal, principal)


@router.post(
    "/proposals/{proposal_id}/accept",
    response_model=ProposalRead,
    summary="Accept a shortlisted proposal (the order's partner)",
)
async def accept_proposal(
    proposal_id: UUID,
    session: SessionDep,
    principal: Annotated[Principal, _may(ProposalAction.ACCEPT)],
    response: Response,
    body: ReasonBody | None = None,
) -> ProposalRead:
    proposal = await transitions.accept_proposal(
        session=session,
        principal=principal,
        proposal_id=proposal_id,
        reason=body.reason if body else None,
    )
    return _answer(response, proposal, principal)


@router.post(
    "/proposals/{proposal_id}/reject",
    response_model=ProposalRead,
    summary="Reject with a structured reason (the order's partner)",
)
async def reject_proposal(
    proposal_id: UUID,
    body: RejectBody,
    session: SessionDep,
    principal: Annotated[Principal, _may(ProposalAction.REJECT)],
    response: Response,
) -> ProposalRead:
    proposal = await transitions.reject_proposal(
        session=session,
        principal=principal,
        proposal_id=proposal_id,
        reason=body.reason,
        comment=body.comment,
    )
    return _answer(response, proposal, principal)


@router.post(
    "/proposals/{proposal_id}/withdraw",
    response_model=ProposalRead,
    summary="Withdraw one's own proposal (its resident or park)",
)
async def withdraw_proposal(
    proposal_id: UUID,
    session: SessionDep,
    principal: Annotated[Principal, _may(ProposalAction.WITHDRAW)],
    response: Response,
    body: ReasonBody | None = None,
) -> ProposalRead:
    proposal = await transitions.withdraw_proposal(
        session=session,
        principal=principal,
        proposal_id=proposal_id,
        reason=body.reason if body else None,
    )
    return _answer(response, proposal, principal)
