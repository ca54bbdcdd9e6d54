"""Webhook routes: `/api/v1/webhooks` (a partner's endpoints and their delivery logs, and
the catch-up feed of every message its webhooks would receive)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse
from innopark_shared.auth import require_scopes_by_method
from innopark_shared.db import SessionDep
from innopark_shared.http import etag_of
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..config import SettingsDep
from ..deps import IfMatch, PartnerOrOperator, PartnerPrincipal, tag
from ..idempotency import Created, IdempotencyDep
from . import feed, service
from .presenters import (
    present_created_endpoint,
    present_delivery,
    present_endpoint,
    present_partner_event,
)
from .schemas import (
    FeedRedelivery,
    PartnerEventRead,
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
    WebhookEventType,
    WebhookMessage,
)

router = APIRouter(
    prefix="/api/v1/webhooks",
    tags=["webhooks"],
    # API clients and keys: what their scope allows (people: their role).
    dependencies=[
        Depends(require_scopes_by_method(read="webhooks:manage", write="webhooks:manage"))
    ],
)


@router.post(
    "",
    status_code=201,
    response_model=WebhookEndpointCreated,
    summary="Register a webhook endpoint; the signing secret is shown only here",
)
async def create_webhook(
    body: WebhookEndpointCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: PartnerPrincipal,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    async def create() -> Created:
        endpoint = await service.create_endpoint(
            session=session, principal=principal, data=body, settings=settings
        )
        headers = {
            "Location": f"/api/v1/webhooks/{endpoint.id}",
            "ETag": etag_of(endpoint.id, endpoint.version),
        }
        return 201, present_created_endpoint(endpoint), headers

    return await idempotency.run(create)


@router.get("", response_model=Page[WebhookEndpointRead])
async def list_webhooks(
    session: SessionDep,
    principal: PartnerOrOperator,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[WebhookEndpointRead]:
    endpoints = await service.list_endpoints(
        session=session, principal=principal, cursor=cursor, limit=limit
    )
    return endpoints.present(present_endpoint)


@router.get(
    "/events",
    response_model=Page[PartnerEventRead],
    summary="Catch-up feed: every message the partner's webhooks would have received, "
    "since a cursor",
    description=(
        "The partner's own messages in commit order, each with the webhook's body exactly "
        "(`payload`; `message_id` is its `webhook-id`) and its deliveries so far, whether "
        "or not an endpoint wanted it at the time. Start without a cursor, then ask again "
        "with `next_cursor`, which is always given: an empty page means nothing new yet. "
        "The feed never skips a message that commits late. The association may read any "
        "partner's (`partner_id`), or all."
    ),
)
async def list_partner_events(
    session: SessionDep,
    principal: PartnerOrOperator,
    cursor: CursorQuery = None,
    type_: Annotated[
        list[WebhookEventType] | None, Query(alias="type", description="Only these types")
    ] = None,
    partner_id: UUID | None = None,
    limit: LimitQuery = 50,
) -> Page[PartnerEventRead]:
    page = await feed.partner_events(
        session=session,
        principal=principal,
        cursor=cursor,
        limit=limit,
        types=[t.value for t in type_] if type_ else None,
        partner_id=partner_id,
    )
    return Page[PartnerEventRead](
        items=[present_partner_event(e, d) for e, d in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/events/{message_id}/redeliver",
    status_code=202,
    response_model=list[WebhookDeliveryRead],
    summary="Send a message of the feed again (same webhook-id) to the partner's endpoints",
)
async def redeliver_partner_event(
    message_id: Annotated[str, Path(max_length=100)],
    session: SessionDep,
    principal: PartnerPrincipal,
    body: FeedRedelivery | None = None,
) -> list[WebhookDeliveryRead]:
    deliveries = await feed.redeliver_event(
        session=session,
        principal=principal,
        message_id=message_id,
        endpoint_id=body.endpoint_id if body else None,
    )
    return [present_delivery(d) for d in deliveries]


@router.get(
    "/{endpoint_id}",
    response_model=WebhookEndpointRead,
    summary="An endpoint, with why it was disabled if it was",
)
async def get_webhook(
    endpoint_id: UUID, session: SessionDep, principal: PartnerOrOperator, response: Response
) -> WebhookEndpointRead:
    endpoint = await service.get_endpoint(
        session=session, principal=principal, endpoint_id=endpoint_id
    )
    tag(response, endpoint.id, endpoint.version)
    return present_endpoint(endpoint)


@router.patch(
    "/{endpoint_id}",
    response_model=WebhookEndpointRead,
    summary="Change an endpoint; `enabled: true` re-enables a disabled one",
)
async def update_webhook(
    endpoint_id: UUID,
    body: WebhookEndpointUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: PartnerPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookEndpointRead:
    endpoint = await service.update_endpoint(
        session=session,
        principal=principal,
        endpoint_id=endpoint_id,
        data=body,
        if_match=if_match,
        settings=settings,
    )
    tag(response, endpoint.id, endpoint.version)
    return present_endpoint(endpoint)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_webhook(
    endpoint_id: UUID, session: SessionDep, principal: PartnerPrincipal
) -> Response:
    await service.delete_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    return Response(status_code=204)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=Page[WebhookDeliveryRead],
    summary="Delivery log of an endpoint, newest first",
)
async def list_deliveries(
    endpoint_id: UUID,
    session: SessionDep,
    principal: PartnerOrOperator,
    status: Annotated[str | None, Query(pattern="^(pending|succeeded|failed)$")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[WebhookDeliveryRead]:
    deliveries = await service.list_deliveries(
        session=session,
        principal=principal,
        endpoint_id=endpoint_id,
        cursor=cursor,
        limit=limit,
        status=status,
    )
    return deliveries.present(present_delivery)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=WebhookDeliveryRead,
    summary="Send a delivered or failed message again (same webhook-id)",
)
async def redeliver(
    endpoint_id: UUID, delivery_id: UUID, session: SessionDep, principal: PartnerPrincipal
) -> WebhookDeliveryRead:
    copy = await service.redeliver(
        session=session, principal=principal, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    return present_delivery(copy)


# What the service sends to partners' endpoints, documented as OpenAPI 3.1 `webhooks`.
deliveries = APIRouter()
_SIGNATURE_HEADERS = {
    "webhook-id": "The message id (`msg_…`), the same on every retry: deduplicate on it",
    "webhook-timestamp": "Unix seconds of this attempt",
    "webhook-signature": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>` with the secret",
}


def _document_delivery(event_type: WebhookEventType) -> None:
    async def receive(body: WebhookMessage) -> None:  # documentation only, never called
        return None

    deliveries.post(
        event_type.value,
        summary=f"{event_type.value}: delivered to endpoints subscribed to it",
        description="Answer any 2xx within the timeout; anything else is retried on a "
        "backoff schedule, and an endpoint that keeps failing is disabled.",
        status_code=200,
        operation_id=f"deliver_{event_type.name.lower()}",
        openapi_extra={
            "parameters": [
                {
                    "name": n,
                    "in": "header",
                    "required": True,
                    "description": d,
                    "schema": {"type": "string"},
                }
                for n, d in _SIGNATURE_HEADERS.items()
            ]
        },
        response_description="Received",
    )(receive)


for _event_type in WebhookEventType:
    _document_delivery(_event_type)
