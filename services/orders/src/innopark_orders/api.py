"""Orders HTTP routes: parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from innopark_shared.auth import OperatorPrincipal, Principal, Role, require_roles
from innopark_shared.db import SessionDep
from innopark_shared.http import etag_of
from innopark_shared.pagination import CursorQuery, LimitQuery

from . import idempotency, service, webhooks
from .config import OrdersSettings
from .schemas import (
    AwardBody,
    MatchPage,
    MatchRead,
    OrderCreate,
    OrderPage,
    OrderRead,
    OrderStatus,
    OrderUpdate,
    PartnerCreate,
    PartnerPage,
    PartnerRead,
    PartnerUpdate,
    ProposalCreate,
    ProposalPage,
    ProposalRead,
    ProposalStatus,
    ReasonBody,
    RejectBody,
    ReturnBody,
    TransitionPage,
    TransitionRead,
    WebhookAttemptRead,
    WebhookDeliveryPage,
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointPage,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
)

router = APIRouter(prefix="/api/v1")

PartnerPrincipal = Annotated[Principal, Depends(require_roles(Role.PARTNER))]
PartnerOrOperator = Annotated[Principal, Depends(require_roles(Role.PARTNER, Role.OPERATOR))]
Proposer = Annotated[Principal, Depends(require_roles(Role.RESIDENT, Role.PARK_MANAGER))]
OrderReader = Annotated[
    Principal,
    Depends(require_roles(Role.OPERATOR, Role.PARTNER, Role.RESIDENT, Role.PARK_MANAGER)),
]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Makes the create safe to retry: replays within 24 h return the response",
    ),
]


def _settings(request: Request) -> OrdersSettings:
    return request.app.state.settings


def _tagged(response: Response, resource_id: UUID, version: int) -> None:
    response.headers["ETag"] = etag_of(resource_id, version)


# -- partners ---------------------------------------------------------------------------


@router.post(
    "/partners",
    status_code=201,
    response_model=PartnerRead,
    tags=["partners"],
    summary="Register a partner corporation (operators)",
)
async def create_partner(
    body: PartnerCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> PartnerRead:
    partner = await service.create_partner(session=session, data=body)
    response.headers["Location"] = f"/api/v1/partners/{partner.id}"
    _tagged(response, partner.id, partner.version)
    return PartnerRead.model_validate(partner)


@router.get(
    "/partners",
    response_model=PartnerPage,
    tags=["partners"],
    summary="Partner corporations (operators)",
)
async def list_partners(
    session: SessionDep,
    principal: OperatorPrincipal,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> PartnerPage:
    items, next_cursor = await service.list_partners(
        session=session, q=q, cursor=cursor, limit=limit
    )
    return PartnerPage(
        items=[PartnerRead.model_validate(p) for p in items], next_cursor=next_cursor
    )


@router.get(
    "/partners/{partner_id}",
    response_model=PartnerRead,
    tags=["partners"],
    summary="One partner (operators, or the partner's own users)",
)
async def get_partner(
    partner_id: UUID, session: SessionDep, principal: PartnerOrOperator, response: Response
) -> PartnerRead:
    partner = await service.get_partner(session=session, principal=principal, partner_id=partner_id)
    _tagged(response, partner.id, partner.version)
    return PartnerRead.model_validate(partner)


@router.patch(
    "/partners/{partner_id}",
    response_model=PartnerRead,
    tags=["partners"],
    summary="Change a partner (operators; If-Match honoured)",
)
async def update_partner(
    partner_id: UUID,
    body: PartnerUpdate,
    session: SessionDep,
    principal: OperatorPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> PartnerRead:
    partner = await service.update_partner(
        session=session, partner_id=partner_id, data=body, if_match=if_match
    )
    _tagged(response, partner.id, partner.version)
    return PartnerRead.model_validate(partner)


# -- orders -----------------------------------------------------------------------------


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderRead,
    tags=["orders"],
    summary="Post a technology order (partners; Idempotency-Key supported)",
)
async def create_order(
    body: OrderCreate,
    request: Request,
    session: SessionDep,
    principal: PartnerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create() -> idempotency.Created:
        order = await service.create_order(session=session, principal=principal, data=body)
        read = await service.order_read(session, principal, order)
        return (
            201,
            read,
            {"Location": f"/api/v1/orders/{order.id}", "ETag": etag_of(order.id, order.version)},
        )

    return await idempotency.run_idempotent(
        request=request, session=session, principal=principal, key=idempotency_key, create=create
    )


@router.get(
    "/orders",
    response_model=OrderPage,
    tags=["orders"],
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
) -> OrderPage:
    items, next_cursor = await service.list_orders(
        session=session,
        principal=principal,
        status=status,
        q=q,
        partner_id=partner_id,
        cursor=cursor,
        limit=limit,
    )
    return OrderPage(
        items=await service.orders_read(session, principal, items), next_cursor=next_cursor
    )


@router.get(
    "/orders/matched",
    response_model=OrderPage,
    tags=["orders"],
    summary="Published orders matched to the caller's resident company or park",
)
async def list_matched_orders(
    session: SessionDep, principal: Proposer, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> OrderPage:
    items, next_cursor = await service.list_orders(
        session=session,
        principal=principal,
        status=None,
        q=None,
        partner_id=None,
        cursor=cursor,
        limit=limit,
        matched=True,
    )
    return OrderPage(
        items=await service.orders_read(session, principal, items), next_cursor=next_cursor
    )


@router.get("/orders/{order_id}", response_model=OrderRead, tags=["orders"])
async def get_order(
    order_id: UUID, session: SessionDep, principal: OrderReader, response: Response
) -> OrderRead:
    order = await service.get_order(session=session, principal=principal, order_id=order_id)
    _tagged(response, order.id, order.version)
    return await service.order_read(session, principal, order)


@router.patch(
    "/orders/{order_id}",
    response_model=OrderRead,
    tags=["orders"],
    summary="Edit a draft order (its partner; If-Match honoured)",
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
    _tagged(response, order.id, order.version)
    return await service.order_read(session, principal, order)


async def _transition(
    request: Request,
    session,
    principal: Principal,
    order_id: UUID,  # noqa: ANN001
    action: str,
    response: Response,
    reason: str | None = None,
    award: AwardBody | None = None,
    if_match: str | None = None,
) -> OrderRead:
    order = await service.transition_order(
        session=session,
        principal=principal,
        order_id=order_id,
        action=action,
        reason=reason,
        settings=_settings(request),
        award=award,
        if_match=if_match,
    )
    _tagged(response, order.id, order.version)
    return await service.order_read(session, principal, order)


@router.post(
    "/orders/{order_id}/submit",
    response_model=OrderRead,
    tags=["orders"],
    summary="Submit a draft for moderation (its partner)",
)
async def submit_order(
    order_id: UUID,
    request: Request,
    session: SessionDep,
    principal: PartnerPrincipal,
    response: Response,
    body: ReasonBody | None = None,
    if_match: IfMatch = None,
) -> OrderRead:
    return await _transition(
        request,
        session,
        principal,
        order_id,
        "submit",
        response,
        body.reason if body else None,
        if_match=if_match,
    )


@router.post(
    "/orders/{order_id}/return",
    response_model=OrderRead,
    tags=["orders"],
    summary="Return a submitted order to its partner with comments (operators)",
)
async def return_order(
    order_id: UUID,
    body: ReturnBody,
    request: Request,
    session: SessionDep,
    principal: OperatorPrincipal,
    response: Response,
) -> OrderRead:
    return await _transition(
        request, session, principal, order_id, "return", response, body.comment
    )


@router.post(
    "/orders/{order_id}/publish",
    response_model=OrderRead,
    tags=["orders"],
    summary="Publish a submitted order and match it (operators)",
)
async def publish_order(
    order_id: UUID,
    request: Request,
    session: SessionDep,
    principal: OperatorPrincipal,
    response: Response,
    body: ReasonBody | None = None,
) -> OrderRead:
    return await _transition(
        request, session, principal, order_id, "publish", response, body.reason if body else None
    )


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderRead,
    tags=["orders"],
    summary="Cancel an order (its partner or operators)",
)
async def cancel_order(
    order_id: UUID,
    request: Request,
    session: SessionDep,
    principal: PartnerOrOperator,
    response: Response,
    body: ReasonBody | None = None,
) -> OrderRead:
    return await _transition(
        request, session, principal, order_id, "cancel", response, body.reason if body else None
    )


@router.post(
    "/orders/{order_id}/close",
    response_model=OrderRead,
    tags=["orders"],
    summary="Close a published order without an award (its partner or operators)",
)
async def close_order(
    order_id: UUID,
    request: Request,
    session: SessionDep,
    principal: PartnerOrOperator,
    response: Response,
    body: ReasonBody | None = None,
) -> OrderRead:
    return await _transition(
        request, session, principal, order_id, "close", response, body.reason if body else None
    )


@router.post(
    "/orders/{order_id}/award",
    response_model=OrderRead,
    tags=["orders"],
    summary="Award the order to its accepted proposal (its partner or operators)",
)
async def award_order(
    order_id: UUID,
    request: Request,
    session: SessionDep,
    principal: PartnerOrOperator,
    response: Response,
    body: AwardBody | None = None,
) -> OrderRead:
    return await _transition(
        request, session, principal, order_id, "award", response, award=body or AwardBody()
    )


@router.get(
    "/orders/{order_id}/history",
    response_model=TransitionPage,
    tags=["orders"],
    summary="Audit trail: every transition, who, when and why (its partner, operators)",
)
async def order_history(
    order_id: UUID, session: SessionDep, principal: PartnerOrOperator
) -> TransitionPage:
    items = await service.list_transitions(session=session, principal=principal, order_id=order_id)
    return TransitionPage(items=[TransitionRead.model_validate(t) for t in items])


@router.get(
    "/orders/{order_id}/matches",
    response_model=MatchPage,
    tags=["orders"],
    summary="Ranked parks and residents with the explanation of each score",
)
async def order_matches(
    order_id: UUID, session: SessionDep, principal: PartnerOrOperator
) -> MatchPage:
    items = await service.list_matches(session=session, principal=principal, order_id=order_id)
    return MatchPage(items=[_match(m) for m in items])


@router.post(
    "/orders/{order_id}/rematch",
    response_model=MatchPage,
    tags=["orders"],
    summary="Run matching again against the current read model (operators)",
)
async def rematch_order(
    order_id: UUID, request: Request, session: SessionDep, principal: OperatorPrincipal
) -> MatchPage:
    items = await service.rematch_order(
        session=session, principal=principal, order_id=order_id, settings=_settings(request)
    )
    return MatchPage(items=[_match(m) for m in items])


def _match(m) -> MatchRead:  # noqa: ANN001
    return MatchRead(
        target_kind=m.target_kind,
        target_id=m.target_id,
        name=m.explanation.get("name"),
        rank=m.rank,
        score=m.score,
        explanation={k: v for k, v in m.explanation.items() if k != "name"},
        matched_at=m.matched_at,
    )


# -- proposals --------------------------------------------------------------------------


@router.post(
    "/orders/{order_id}/proposals",
    status_code=201,
    response_model=ProposalRead,
    tags=["proposals"],
    summary="Propose a solution to a published order (residents, park managers)",
)
async def create_proposal(
    order_id: UUID,
    body: ProposalCreate,
    request: Request,
    session: SessionDep,
    principal: Proposer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create() -> idempotency.Created:
        proposal = await service.create_proposal(
            session=session, principal=principal, order_id=order_id, data=body
        )
        read = (await service.proposals_read(session, principal, [proposal]))[0]
        return (
            201,
            read,
            {
                "Location": f"/api/v1/proposals/{proposal.id}",
                "ETag": etag_of(proposal.id, proposal.version),
            },
        )

    return await idempotency.run_idempotent(
        request=request, session=session, principal=principal, key=idempotency_key, create=create
    )


@router.get("/orders/{order_id}/proposals", response_model=ProposalPage, tags=["proposals"])
async def list_order_proposals(
    order_id: UUID,
    session: SessionDep,
    principal: OrderReader,
    status: ProposalStatus | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> ProposalPage:
    items, next_cursor = await service.list_proposals(
        session=session,
        principal=principal,
        order_id=order_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return ProposalPage(
        items=await service.proposals_read(session, principal, items), next_cursor=next_cursor
    )


@router.get(
    "/proposals",
    response_model=ProposalPage,
    tags=["proposals"],
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
) -> ProposalPage:
    items, next_cursor = await service.list_proposals(
        session=session,
        principal=principal,
        order_id=order_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return ProposalPage(
        items=await service.proposals_read(session, principal, items), next_cursor=next_cursor
    )


@router.get("/proposals/{proposal_id}", response_model=ProposalRead, tags=["proposals"])
async def get_proposal(
    proposal_id: UUID, session: SessionDep, principal: OrderReader, response: Response
) -> ProposalRead:
    proposal = await service.get_proposal(
        session=session, principal=principal, proposal_id=proposal_id
    )
    _tagged(response, proposal.id, proposal.version)
    return (await service.proposals_read(session, principal, [proposal]))[0]


async def _proposal_action(
    session,
    principal: Principal,
    proposal_id: UUID,
    action: str,  # noqa: ANN001
    response: Response,
    **kwargs,
) -> ProposalRead:  # noqa: ANN003
    proposal = await service.transition_proposal(
        session=session, principal=principal, proposal_id=proposal_id, action=action, **kwargs
    )
    _tagged(response, proposal.id, proposal.version)
    return (await service.proposals_read(session, principal, [proposal]))[0]


@router.post(
    "/proposals/{proposal_id}/shortlist",
    response_model=ProposalRead,
    tags=["proposals"],
    summary="Shortlist (the order's partner): both contacts are revealed",
)
async def shortlist_proposal(
    proposal_id: UUID,
    session: SessionDep,
    principal: PartnerOrOperator,
    response: Response,
    body: ReasonBody | None = None,
) -> ProposalRead:
    return await _proposal_action(
        session, principal, proposal_id, "shortlist", response, reason=body.reason if body else None
    )


@router.post(
    "/proposals/{proposal_id}/accept",
    response_model=ProposalRead,
    tags=["proposals"],
    summary="Accept a shortlisted proposal (the order's partner)",
)
async def accept_proposal(
    proposal_id: UUID,
    session: SessionDep,
    principal: PartnerOrOperator,
    response: Response,
    body: ReasonBody | None = None,
) -> ProposalRead:
    return await _proposal_action(
        session, principal, proposal_id, "accept", response, reason=body.reason if body else None
    )


@router.post(
    "/proposals/{proposal_id}/reject",
    response_model=ProposalRead,
    tags=["proposals"],
    summary="Reject with a structured reason (the order's partner)",
)
async def reject_proposal(
    proposal_id: UUID,
    body: RejectBody,
    session: SessionDep,
    principal: PartnerOrOperator,
    response: Response,
) -> ProposalRead:
    return await _proposal_action(session, principal, proposal_id, "reject", response, reject=body)


@router.post(
    "/proposals/{proposal_id}/withdraw",
    response_model=ProposalRead,
    tags=["proposals"],
    summary="Withdraw one's own proposal (its resident or park)",
)
async def withdraw_proposal(
    proposal_id: UUID,
    session: SessionDep,
    principal: Proposer,
    response: Response,
    body: ReasonBody | None = None,
) -> ProposalRead:
    return await _proposal_action(
        session, principal, proposal_id, "withdraw", response, reason=body.reason if body else None
    )


# -- webhooks ---------------------------------------------------------------------------


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookEndpointCreated,
    tags=["webhooks"],
    summary="Register a webhook endpoint; the signing secret is shown only here",
)
async def create_webhook(
    body: WebhookEndpointCreate,
    request: Request,
    session: SessionDep,
    principal: PartnerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create() -> idempotency.Created:
        endpoint = await webhooks.create_endpoint(
            session=session, principal=principal, data=body, settings=_settings(request)
        )
        read = WebhookEndpointCreated.model_validate(endpoint)
        return (
            201,
            read,
            {
                "Location": f"/api/v1/webhooks/{endpoint.id}",
                "ETag": etag_of(endpoint.id, endpoint.version),
            },
        )

    return await idempotency.run_idempotent(
        request=request, session=session, principal=principal, key=idempotency_key, create=create
    )


@router.get("/webhooks", response_model=WebhookEndpointPage, tags=["webhooks"])
async def list_webhooks(
    session: SessionDep,
    principal: PartnerOrOperator,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> WebhookEndpointPage:
    items, next_cursor = await webhooks.list_endpoints(
        session=session, principal=principal, cursor=cursor, limit=limit
    )
    return WebhookEndpointPage(
        items=[WebhookEndpointRead.model_validate(e) for e in items], next_cursor=next_cursor
    )


@router.get(
    "/webhooks/{endpoint_id}",
    response_model=WebhookEndpointRead,
    tags=["webhooks"],
    summary="An endpoint, with why it was disabled if it was",
)
async def get_webhook(
    endpoint_id: UUID, session: SessionDep, principal: PartnerOrOperator, response: Response
) -> WebhookEndpointRead:
    endpoint = await webhooks.get_endpoint(
        session=session, principal=principal, endpoint_id=endpoint_id
    )
    _tagged(response, endpoint.id, endpoint.version)
    return WebhookEndpointRead.model_validate(endpoint)


@router.patch(
    "/webhooks/{endpoint_id}",
    response_model=WebhookEndpointRead,
    tags=["webhooks"],
    summary="Change an endpoint; `enabled: true` re-enables a disabled one",
)
async def update_webhook(
    endpoint_id: UUID,
    body: WebhookEndpointUpdate,
    request: Request,
    session: SessionDep,
    principal: PartnerPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookEndpointRead:
    endpoint = await webhooks.update_endpoint(
        session=session,
        principal=principal,
        endpoint_id=endpoint_id,
        data=body,
        if_match=if_match,
        settings=_settings(request),
    )
    _tagged(response, endpoint.id, endpoint.version)
    return WebhookEndpointRead.model_validate(endpoint)


@router.delete("/webhooks/{endpoint_id}", status_code=204, tags=["webhooks"])
async def delete_webhook(
    endpoint_id: UUID, session: SessionDep, principal: PartnerPrincipal
) -> Response:
    await webhooks.delete_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    return Response(status_code=204)


def _delivery(d, attempts) -> WebhookDeliveryRead:  # noqa: ANN001
    return WebhookDeliveryRead(
        id=d.id,
        endpoint_id=d.endpoint_id,
        message_id=d.message_id,
        event_type=d.event_type,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_attempt_at=d.last_attempt_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
        succeeded_at=d.succeeded_at,
        attempt_log=[WebhookAttemptRead.model_validate(a) for a in attempts],
        payload=d.payload,
    )


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    response_model=WebhookDeliveryPage,
    tags=["webhooks"],
    summary="Delivery log of an endpoint, newest first",
)
async def list_deliveries(
    endpoint_id: UUID,
    session: SessionDep,
    principal: PartnerOrOperator,
    status: Annotated[str | None, Query(pattern="^(pending|succeeded|failed)$")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> WebhookDeliveryPage:
    items, next_cursor = await webhooks.list_deliveries(
        session=session,
        principal=principal,
        endpoint_id=endpoint_id,
        cursor=cursor,
        limit=limit,
        status=status,
    )
    return WebhookDeliveryPage(items=[_delivery(d, a) for d, a in items], next_cursor=next_cursor)


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=WebhookDeliveryRead,
    tags=["webhooks"],
    summary="Send a delivered or failed message again (same webhook-id)",
)
async def redeliver(
    endpoint_id: UUID, delivery_id: UUID, session: SessionDep, principal: PartnerPrincipal
) -> WebhookDeliveryRead:
    copy = await webhooks.redeliver(
        session=session, principal=principal, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    return _delivery(copy, [])
