"""Partner webhooks: endpoints, Standard Webhooks signatures, and the persisted delivery
queue (claimed with SELECT ... FOR UPDATE SKIP LOCKED, so replicas share it and a
restart loses nothing: a delivery is only marked done after the receiver's 2xx)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from innopark_shared.auth import Principal
from innopark_shared.errors import InvalidTransition, NotFound, Unprocessable
from innopark_shared.http import check_if_match
from sqlalchemy.ext.asyncio import AsyncSession

from .config import OrdersSettings
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .pagination import newest_first, page_of
from .schemas import WebhookEndpointCreate, WebhookEndpointUpdate

log = logging.getLogger(__name__)

USER_AGENT = "Innopark-Webhooks/1.0"


# -- signatures (https://www.standardwebhooks.com) --------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# -- SSRF guard -------------------------------------------------------------------------


def _forbidden_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url_syntax(url: str, *, allow_private: bool) -> None:
    """Refuse, at registration, URLs that name a private address or localhost outright."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if not host:
        raise _bad_url("URL has no host")
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost") or host.endswith(".internal"):
        raise _bad_url("Webhook URLs must not point at private or loopback addresses")
    try:
        if _forbidden_address(host):
            raise _bad_url("Webhook URLs must not point at private or loopback addresses")
    except ValueError:
        pass  # a name: resolved and checked again at every delivery


async def check_target(url: str, *, allow_private: bool) -> None:
    """At delivery: every address the name resolves to must be public (DNS rebinding)."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        if _forbidden_address(info[4][0]):
            raise PermissionError(f"{host} resolves to a non-public address")


def _bad_url(message: str) -> Unprocessable:
    return Unprocessable(
        message,
        errors=[
            {"field": "url", "location": ["body", "url"], "message": message, "type": "value_error"}
        ],
    )


# -- endpoints --------------------------------------------------------------------------


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
        version=1,
    )
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def get_endpoint(
    *, session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, for_update: bool = False
) -> WebhookEndpoint:
    stmt = _scope(sa.select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id), principal)
    if for_update:
        stmt = stmt.with_for_update()
    endpoint = (await session.execute(stmt)).scalar_one_or_none()
    if endpoint is None:
        raise NotFound("No such webhook endpoint")
    return endpoint


async def list_endpoints(
    *, session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[WebhookEndpoint], str | None]:
    stmt = newest_first(
        _scope(sa.select(WebhookEndpoint), principal),
        WebhookEndpoint.created_at,
        WebhookEndpoint.id,
        cursor,
        limit,
    )
    rows = (await session.execute(stmt)).scalars().all()
    return page_of(rows, limit, lambda e: (e.created_at, e.id))


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
    changes = data.model_dump(exclude_unset=True)
    if "url" in changes and changes["url"] is not None:
        check_url_syntax(str(data.url), allow_private=settings.webhook_allow_private_targets)
        endpoint.url = str(data.url)
    if "description" in changes:
        endpoint.description = data.description
    if changes.get("event_types") is not None:
        endpoint.event_types = [str(t) for t in data.event_types or []]
    if changes.get("enabled") is True and not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = True, None, None
        endpoint.consecutive_failures = 0
    elif changes.get("enabled") is False and endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_reason = "Disabled by the partner"
        endpoint.disabled_at = datetime.now(UTC)
    endpoint.version += 1
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
) -> tuple[list[tuple[WebhookDelivery, list[WebhookAttempt]]], str | None]:
    await get_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    stmt = sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    stmt = newest_first(stmt, WebhookDelivery.created_at, WebhookDelivery.id, cursor, limit)
    rows = (await session.execute(stmt)).scalars().all()
    items, next_cursor = page_of(rows, limit, lambda d: (d.created_at, d.id))
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d in items}
    if items:
        for attempt in (
            await session.execute(
                sa.select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id.in_(list(attempts)))
                .order_by(WebhookAttempt.attempt)
            )
        ).scalars():
            attempts[attempt.delivery_id].append(attempt)
    return [(d, attempts[d.id]) for d in items], next_cursor


async def redeliver(
    *, session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Queue the same message (same `webhook-id`) again as a new delivery."""
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
    copy = WebhookDelivery(
        id=uuid.uuid4(),
        endpoint_id=endpoint.id,
        partner_id=endpoint.partner_id,
        message_id=original.message_id,
        event_type=original.event_type,
        payload=original.payload,
        status="pending",
        attempts=0,
        next_attempt_at=datetime.now(UTC),
    )
    session.add(copy)
    await session.flush()
    await session.refresh(copy)
    return copy


# -- enqueueing (inside the transaction of the change) -----------------------------------


async def enqueue(
    session: AsyncSession, *, partner_id: uuid.UUID, event_type: str, data: dict[str, Any]
) -> int:
    endpoints = (
        (
            await session.execute(
                sa.select(WebhookEndpoint.id).where(
                    WebhookEndpoint.partner_id == partner_id,
                    WebhookEndpoint.enabled.is_(True),
                    sa.or_(
                        sa.func.cardinality(WebhookEndpoint.event_types) == 0,
                        WebhookEndpoint.event_types.any(event_type),
                    ),
                )
            )
        )
        .scalars()
        .all()
    )
    if not endpoints:
        return 0
    now = datetime.now(UTC)
    message_id = f"msg_{uuid.uuid4().hex}"
    payload = {
        "type": event_type,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    await session.execute(
        sa.insert(WebhookDelivery),
        [
            {
                "id": uuid.uuid4(),
                "endpoint_id": endpoint_id,
                "partner_id": partner_id,
                "message_id": message_id,
                "event_type": event_type,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for endpoint_id in endpoints
        ],
    )
    return len(endpoints)


# -- the delivery worker ----------------------------------------------------------------


async def deliver_webhooks(app: FastAPI) -> None:
    """Background job: deliver what is due, forever."""
    settings: OrdersSettings = app.state.settings
    database = app.state.database
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    ) as client:
        while True:
            try:
                handled = await deliver_due(database, client, settings)
            except (OSError, sa.exc.DBAPIError, sa.exc.InterfaceError) as exc:
                log.warning("webhook delivery pass failed: %s", exc)
                handled = 0
            if handled < settings.webhook_batch_size:
                await asyncio.sleep(settings.webhook_poll_interval_seconds)


async def deliver_due(database: Any, client: httpx.AsyncClient, settings: OrdersSettings) -> int:
    async with database.transaction() as session:
        rows = (
            await session.execute(
                sa.select(WebhookDelivery, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= sa.func.now(),
                    WebhookEndpoint.enabled.is_(True),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
                .limit(settings.webhook_batch_size)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            )
        ).all()
        if not rows:
            return 0
        results = await asyncio.gather(
            *(_attempt(client, delivery, endpoint, settings) for delivery, endpoint in rows)
        )
        for (delivery, endpoint), (status_code, error, duration_ms, at) in zip(
            rows, results, strict=True
        ):
            await _record(
                session, delivery, endpoint, status_code, error, duration_ms, at, settings
            )
    return len(rows)


async def _attempt(
    client: httpx.AsyncClient,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    settings: OrdersSettings,
) -> tuple[int | None, str | None, int, datetime]:
    at = datetime.now(UTC)
    started = time.monotonic()
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(endpoint.secret, delivery.message_id, timestamp, body),
    }
    try:
        await check_target(endpoint.url, allow_private=settings.webhook_allow_private_targets)
        response = await client.post(endpoint.url, content=body, headers=headers)
        status: int | None = response.status_code
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except (httpx.HTTPError, OSError, PermissionError) as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:1000]
    return status, error, int((time.monotonic() - started) * 1000), at


async def _record(
    session: AsyncSession,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    at: datetime,
    settings: OrdersSettings,
) -> None:
    delivery.attempts += 1
    delivery.last_attempt_at = at
    delivery.last_status_code = status_code
    delivery.last_error = error
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            at=at,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
    )
    if error is None:
        delivery.status, delivery.next_attempt_at = "succeeded", None
        delivery.succeeded_at = datetime.now(UTC)
        endpoint.consecutive_failures = 0
        return
    schedule = settings.webhook_retry_schedule
    if delivery.attempts < len(schedule):
        jitter = 1 + random.uniform(-settings.webhook_jitter, settings.webhook_jitter)  # noqa: S311
        delivery.next_attempt_at = datetime.now(UTC) + timedelta(
            seconds=schedule[delivery.attempts] * jitter
        )
    else:
        delivery.status, delivery.next_attempt_at = "failed", None
    if not endpoint.enabled:
        return
    endpoint.consecutive_failures += 1
    reason = None
    if status_code == 410:
        reason = "The endpoint answered 410 Gone"
    elif endpoint.consecutive_failures >= settings.webhook_disable_after_failures:
        reason = (
            f"Disabled after {endpoint.consecutive_failures} consecutive failed "
            f"deliveries; last error: {error}"
        )
    if reason:
        endpoint.enabled, endpoint.disabled_reason = False, reason
        endpoint.disabled_at = datetime.now(UTC)
        endpoint.version += 1
        log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
