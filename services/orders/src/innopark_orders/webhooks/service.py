"""Webhook endpoints: a partner registers, changes and removes its own; reads their
delivery log; and queues a message again (manual redelivery)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.errors import InvalidTransition, NotFound
from innopark_shared.http import check_if_match
from innopark_shared.pagination import Slice, paginate
from innopark_shared.tracing import current_headers
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ..config import OrdersSettings
from ..models import WebhookDelivery, WebhookEndpoint
from .schemas import WebhookEndpointCreate, WebhookEndpointUpdate
from .signing import new_secret
from .targets import check_url_syntax


def _scope(stmt: sa.Select, principal: Principal) -> sa.Select:
    if principal.is_operator:
        return stmt
    return stmt.where(WebhookEndpoint.partner_id == principal.partner_id)


async def create_endpoint(
    *,
    session: AsyncSession,
    principal: Principal,
    data: WebhookEndpointCreate,
    settings: OrdersSettings,
) -> WebhookEndpoint:
    check_url_syntax(str(data.url), allow_private=settings.webhook_allow_private_targets)
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        partner_id=principal.partner_id,
        url=str(data.url),
        description=data.description,
        secret=new_secret(),
        event_types=[str(t) for t in data.event_types],
        enabled=True,
        consecutive_failures=0,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint


async def get_endpoint(
    *, session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, for_update: bool = False
) -> WebhookEndpoint:
    stmt = _scope(sa.select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id), principal)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    endpoint = (await session.execute(stmt)).scalar_one_or_none()
    if endpoint is None:
        raise NotFound("No such webhook endpoint")
    return endpoint


async def list_endpoints(
    *, session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Slice[WebhookEndpoint]:
    return await paginate(
        session,
        _scope(sa.select(WebhookEndpoint), principal),
        order_by=[WebhookEndpoint.created_at, WebhookEndpoint.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


async def update_endpoint(
    *,
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
    if_match: str | None,
    settings: OrdersSettings,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(
        session=session, principal=principal, endpoint_id=endpoint_id, for_update=True
    )
    check_if_match(if_match, endpoint.id, endpoint.version)
    changes = data.changes()
    if "url" in changes:
        check_url_syntax(str(data.url), allow_private=settings.webhook_allow_private_targets)
        endpoint.url = str(data.url)
    if "description" in changes:
        endpoint.description = data.description
    if "event_types" in changes:
        endpoint.event_types = [str(t) for t in data.event_types or []]
    if changes.get("enabled") is True and not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = True, None, None
        endpoint.consecutive_failures = 0
    elif changes.get("enabled") is False and endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_reason = "Disabled by the partner"
        endpoint.disabled_at = datetime.now(UTC)
    endpoint.updated_at = datetime.now(UTC)
    await session.flush()
    return endpoint


async def delete_endpoint(
    *, session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> None:
    endpoint = await get_endpoint(
        session=session, principal=principal, endpoint_id=endpoint_id, for_update=True
    )
    await session.delete(endpoint)
    await session.flush()


async def list_deliveries(
    *,
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    cursor: str | None,
    limit: int,
    status: str | None = None,
) -> Slice[WebhookDelivery]:
    """The endpoint's delivery log, newest first, each with its attempts."""
    await get_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    stmt = (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .options(selectinload(WebhookDelivery.attempt_log))
    )
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return await paginate(
        session,
        stmt,
        order_by=[WebhookDelivery.created_at, WebhookDelivery.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


async def redeliver(
    *, session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Send the same message (same `webhook-id`) again, now. A retry of it still pending
    for this endpoint is that delivery: it is brought forward rather than copied, so the
    message goes out once more, not twice (and a success settles any other copy)."""
    endpoint = await get_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    original = (
        await session.execute(
            sa.select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id
            )
        )
    ).scalar_one_or_none()
    if original is None:
        raise NotFound("No such delivery")
    if not endpoint.enabled:
        raise InvalidTransition(
            "The endpoint is disabled; enable it before redelivering",
            disabled_reason=endpoint.disabled_reason,
        )
    return await send_again(
        session,
        endpoint,
        message_id=original.message_id,
        event_type=original.event_type,
        payload=original.payload,
    )


async def send_again(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    message_id: str,
    event_type: str,
    payload: dict,
) -> WebhookDelivery:
    """The pending delivery of `message_id` to `endpoint`, made due now; or a new one."""
    pending = (
        await session.execute(
            sa.select(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.message_id == message_id,
                WebhookDelivery.status == "pending",
            )
            .order_by(WebhookDelivery.created_at)
            .limit(1)
            .with_for_update()
            .options(selectinload(WebhookDelivery.attempt_log))
        )
    ).scalar_one_or_none()
    if pending is not None:
        pending.next_attempt_at = datetime.now(UTC)
        await session.flush()
        return pending
    copy = WebhookDelivery(
        id=uuid.uuid4(),
        endpoint_id=endpoint.id,
        partner_id=endpoint.partner_id,
        message_id=message_id,
        event_type=event_type,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=datetime.now(UTC),
        attempt_log=[],
        trace_headers=current_headers(),  # the redelivery's own request
    )
    session.add(copy)
    await session.flush()
    return copy
