"""Order routes: `/api/v1/orders` (post, edit, read, the lifecycle actions, history and
matches)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from innopark_shared.auth import Principal, require_roles, require_scopes_by_method
from innopark_shared.db import SessionDep
from innopark_shared.http import etag_of
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from .. import access
from ..config import SettingsDep
from ..deps import (
    IfMatch,
    OrderReader,
    PartnerOrOperator,
    PartnerPrincipal,
    Proposer,
    ReasonBody,
    tag,
)
from ..idempotency import Created, IdempotencyDep
from ..models import Order, OrderAction, OrderStatus
from . import queries, service, transitions
from .presenters import present_match, present_order, present_transition
from .schemas import (
    AwardBody,
    MatchRead,
    OrderCreate,
    OrderRead,
    OrderUpdate,
    ReturnBody,
    TransitionRead,
)

router = APIRouter(
    prefix="/api/v1/orders",
    tags=["orders"],
    # API clients and keys: what their scope allows (people: their role).
    dependencies=[Depends(require_scopes_by_method(read="orders:read", write="orders:write"))],
)


def _may(action: OrderAction) -> Any:
    """The route dependency of `action`: the roles its rule allows."""
    return Depends(require_roles(*transitions.may(action)))


def _answer(response: Response, order: Order, principal: Principal) -> OrderRead:
    tag(response, order.id, order.version)
    return present_order(order, principal)


def _reason(body: ReasonBody | None) -> str | None:
    return body.reason if body else None


@router.post(
    "",
    status_code=201,
    response_model=OrderRead,
    summary="Post a technology order (partners; Idempotency-Key supported)",
)
async def create_order(
    body: OrderCreate,
    session: SessionDep,
    principal: PartnerPrincipal,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    async def create() -> Created:
        order = await service.create_order(session=session, principal=principal, data=body)
        headers = {
            "Location": f"/api/v1/orders/{order.id}",
            "ETag": etag_of(order.id, order.version),
        }
        return 201, present_order(order, principal), headers

    return await idempotency.run(create)


@router.get(
    "",
    response_model=Page[OrderRead],
    summary="Orders the caller may see (partners: their own; residents and park "
    "managers: published ones)",
)
async def list_orders(
    session: SessionDep,
    principal: OrderReader,
    status: OrderStatus | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    partner_id: UUID | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[OrderRead]:
    orders = await queries.list_orders(
        session=session,
        principal=principal,
        status=status,
        q=q,
        partner_id=partner_id,
        cursor=cursor,
        limit=limit,
    )
    return orders.present(lambda o: present_order(o, principal))


@router.get(
    "/matched",
    response_model=Page[OrderRead],
    summary="Published orders matched to the caller's resident company or park",
)
async def list_matched_orders(
    session: SessionDep, principal: Proposer, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[OrderRead]:
    orders = await queries.list_matched_orders(
        session=session, principal=principal, cursor=cursor, limit=limit
    )
    return orders.present(lambda o: present_order(o, principal))


@router.get("/{order_id}", response_model=OrderRead)
async def get_order(
    order_id: UUID, session: SessionDep, principal: OrderReader, response: Response
) -> OrderRead:
    order = await access.get_order(session=session, principal=principal, order_id=order_id)
    return _answer(response, order, principal)


@router.patch(
    "/{order_id}",
    response_model=OrderRead,
    summary="Edit a draft order (its partner; If-Match honoured; null for a required "
    "field is a 422)",
)
async def update_order(
    order_id: UUID,
    body: OrderUpdate,
    session: SessionDep,
    principal: PartnerPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> OrderRead:
    order = await service.update_order(
        session=session, principal=principal, order_id=order_id, data=body, if_match=if_match
    )
    return _answer(response, order, principal)


@router.post(
    "/{order_id}/submit",
    response_model=OrderRead,
    summary="Submit a draft for moderation (its partner)",
)
async def submit_order(
    order_id: UUID,
    session: SessionDep,
    principal: Annotated[Principal, _may(OrderAction.SUBMIT)],
    response: Response,
    body: ReasonBody | None = None,
    if_match: IfMatch = None,
) -> OrderRead:
    order = await transitions.submit_order(
        session=session,
        principal=principal,
        order_id=order_id,
        reason=_reason(body),
        if_match=if_match,
    )
    return _answer(response, order, principal)


@router.post(
    "/{order_id}/return",
    response_model=OrderRead,
    summary="Return a submitted order to its partner with comments (operators)",
)
async def return_order(
    order_id: UUID,
    body: ReturnBody,
    session: SessionDep,
    principal: Annotated[Principal, _may(OrderAction.RETURN)],
    response: Response,
) -> OrderRead:
    order = await transitions.return_order(
        session=session, principal=principal, order_id=order_id, comment=body.comment
    )
    return _answer(response, order, principal)


@router.post(
    "/{order_id}/publish",
    response_model=OrderRead,
    summary="Publish a submitted order and match it (operators)",
)
async def publish_order(
    order_id: UUID,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, _may(OrderAction.PUBLISH)],
    response: Response,
    body: ReasonBody | None = None,
) -> OrderRead:
    order = await transitions.publish_order(
        session=session,
        principal=principal,
        order_id=order_id,
        settings=settings,
        reason=_reason(body),
    )
    return _answer(response, order, principal)


@router.post(
    "/{order_id}/cancel",
    response_model=OrderRead,
    summary="Cancel an order (its partner or operators)",
)
async def cancel_order(
    order_id: UUID,
    session: SessionDep,
    principal: Annotated[Principal, _may(OrderAction.CANCEL)],
    response: Response,
    body: ReasonBody | None = None,
) -> OrderRead:
    order = await transitions.cancel_order(
        session=session, principal=principal, order_id=order_id, reason=_reason(body)
    )
    return _answer(response, order, principal)


@router.post(
    "/{order_id}/close",
    response_model=OrderRead,
    summary="Close a published order without an award (its partner or operators)",
)
async def close_order(
    order_id: UUID,
    session: SessionDep,
    principal: Annotated[Principal, _may(OrderAction.CLOSE)],
    response: Response,
    body: ReasonBody | None = None,
) -> OrderRead:
    order = await transitions.close_order(
        session=session, principal=principal, order_id=order_id, reason=_reason(body)
    )
    return _answer(response, order, principal)


@router.post(
    "/{order_id}/award",
    response_model=OrderRead,
    summary="Award the order to its accepted proposal (its partner or operators)",
)
async def award_order(
    order_id: UUID,
    session: SessionDep,
    principal: Annotated[Principal, _may(OrderAction.AWARD)],
    response: Response,
    body: AwardBody | None = None,
) -> OrderRead:
    award = body or AwardBody()
    order = await transitions.award_order(
        session=session,
        principal=principal,
        order_id=order_id,
        proposal_id=award.proposal_id,
        reason=award.reason,
    )
    return _answer(response, order, principal)


@router.get(
    "/{order_id}/history",
    response_model=Page[TransitionRead],
    summary="Audit trail: every transition, who, when and why (its partner, operators)",
)
async def order_history(
    order_id: UUID, session: SessionDep, principal: PartnerOrOperator
) -> Page[TransitionRead]:
    entries = await queries.list_transitions(
        session=session, principal=principal, order_id=order_id
    )
    return Page[TransitionRead](items=[present_transition(e) for e in entries])


@router.get(
    "/{order_id}/matches",
    response_model=Page[MatchRead],
    summary="Ranked parks and residents with the explanation of each score",
)
async def order_matches(
    order_id: UUID, session: SessionDep, principal: PartnerOrOperator
) -> Page[MatchRead]:
    matches = await queries.list_matches(session=session, principal=principal, order_id=order_id)
    return Page[MatchRead](items=[present_match(m) for m in matches])


@router.post(
    "/{order_id}/rematch",
    response_model=Page[MatchRead],
    summary="Run matching again against the current read model (operators)",
)
async def rematch_order(
    order_id: UUID,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, _may(OrderAction.REMATCH)],
) -> Page[MatchRead]:
    matches = await transitions.rematch_order(
        session=session, principal=principal, order_id=order_id, settings=settings
    )
    return Page[MatchRead](items=[present_match(m) for m in matches])
