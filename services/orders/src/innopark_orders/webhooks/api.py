"""Webhook routes: `/api/v1/webhooks` (a partner's endpoints and their delivery logs)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from innopark_shared.db import SessionDep
from innopark_shared.http import etag_of
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..config import SettingsDep
from ..deps import IfMatch, PartnerOrOperator, PartnerPrincipal, tag
from ..idempotency import Created, IdempotencyDep
from . import service
from .presenters import present_created_endpoint, present_delivery, present_endpoint
from .schemas import (
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


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
