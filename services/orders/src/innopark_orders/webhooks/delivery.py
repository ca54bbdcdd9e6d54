"""The webhook delivery queue: rows in `webhook_deliveries`, written in the transaction of
the change they announce, claimed with SELECT ... FOR UPDATE SKIP LOCKED (so replicas
share it and a restart loses nothing: a delivery is only marked done after the
receiver's 2xx), retried with backoff, and the endpoint disabled when it keeps failing.
Every message is also kept in `partner_events`, whether an endpoint wanted it or not: the
partner's catch-up feed (`feed.py`)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from innopark_shared.contracts import IntegrationEvent
from innopark_shared.metrics import counter
from innopark_shared.tracing import SpanKind, context_from, current_headers, tracer
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import OrdersSettings
from ..models import PartnerEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .schemas import WebhookEventType
from .signing import sign
from .targets import check_target

log = logging.getLogger(__name__)

USER_AGENT = "Innopark-Webhooks/1.0"


# -- enqueueing (inside the transaction of the change) -----------------------------------


async def notify_partner(
    session: AsyncSession,
    event: IntegrationEvent,
    *,
    partner_id: uuid.UUID,
    event_type: WebhookEventType,
    overrides: dict[str, Any] | None = None,
) -> int:
    """Queue `event` for the partner's enabled endpoints that want `event_type` (with the
    partner named, even for a confidential order: it is the partner's own; `overrides`
    replace fields the partner may not see yet)."""
    data = event.model_dump(mode="json")
    data["partner_id"] = str(partner_id)
    data.update(overrides or {})
    return await enqueue(session, partner_id=partner_id, event_type=event_type.value, data=data)


async def enqueue(
    session: AsyncSession, *, partner_id: uuid.UUID, event_type: str, data: dict[str, Any]
) -> int:
    """Record the message in the partner's catch-up feed, and queue it for each endpoint
    that wants it now; how many deliveries were queued."""
    now = datetime.now(UTC)
    message_id = f"msg_{uuid.uuid4().hex}"
    payload = {
        "type": event_type,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    session.add(
        PartnerEvent(
            message_id=message_id, partner_id=partner_id, event_type=event_type, payload=payload
        )
    )
    endpoints = (
        (
            await session.execute(
                sa.select(WebhookEndpoint.id).where(
                    WebhookEndpoint.partner_id == partner_id,
                    WebhookEndpoint.enabled.is_(True),
                    sa.or_(
                        sa.func.cardinality(WebhookEndpoint.event_types) == 0,
                        sa.literal(event_type) == sa.any_(WebhookEndpoint.event_types),
                    ),
                )
            )
        )
        .scalars()
        .all()
    )
    if not endpoints:
        await session.flush()
        return 0
    await session.flush()
    trace_headers = current_headers()
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
                "trace_headers": trace_headers,
            }
            for endpoint_id in endpoints
        ],
    )
    return len(endpoints)


# -- the delivery worker ----------------------------------------------------------------


# Seconds a shutdown waits for attempts in flight (well inside Kubernetes' default 30 s
# termination grace, beside the relay's own flush).
SHUTDOWN_GRACE_SECONDS = 5.0


async def deliver_webhooks(app: FastAPI) -> None:
    """Background job: deliver what is due, forever.

    Due deliveries are claimed in a short transaction that moves their `next_attempt_at`
    one lease ahead (FOR UPDATE SKIP LOCKED, so replicas never claim the same row); each
    is then sent on its own, outside any transaction, and its outcome recorded at once. A
    slow receiver therefore holds up neither the database nor other partners' deliveries,
    and a delivery whose process died mid-flight is due again when its lease runs out.
    """
    settings: OrdersSettings = app.state.settings
    database = app.state.database
    outcomes = counter(
        app,
        "innopark_webhook_deliveries",
        "Webhook delivery attempts by outcome (delivered: 2xx; rejected: another status; "
        "unreachable: no answer)",
        ["outcome"],
    )
    in_flight: dict[uuid.UUID, asyncio.Task[None]] = {}
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    ) as client:
        try:
            while True:
                room = settings.webhook_batch_size - len(in_flight)
                claimed: list[tuple[WebhookDelivery, WebhookEndpoint]] = []
                if room > 0:
                    try:
                        claimed = await claim_due(database, settings, room)
                    except (OSError, sa.exc.DBAPIError, sa.exc.InterfaceError) as exc:
                        log.warning("claiming webhook deliveries failed: %s", exc)
                for delivery, endpoint in claimed:
                    task = asyncio.create_task(
                        _deliver_one(database, client, settings, delivery, endpoint, outcomes)
                    )
                    in_flight[delivery.id] = task
                    task.add_done_callback(lambda _t, key=delivery.id: in_flight.pop(key, None))
                if not claimed:
                    await asyncio.sleep(settings.webhook_poll_interval_seconds)
        finally:
            # Shutting down: attempts in flight may finish and be recorded (the receiver
            # may have them already: an attempt it saw and we forgot would be sent again
            # uncounted); what is still cut off after the grace is due again at once (not
            # after its lease), for this or another replica.
            if in_flight:
                await asyncio.wait(
                    list(in_flight.values()),
                    timeout=min(settings.webhook_timeout_seconds, SHUTDOWN_GRACE_SECONDS),
                )
            cut_off = {key: task for key, task in in_flight.items() if not task.done()}
            for task in cut_off.values():
                task.cancel()
            if cut_off:
                await asyncio.gather(*cut_off.values(), return_exceptions=True)
                await _release(database, list(cut_off))


def _lease(settings: OrdersSettings) -> timedelta:
    return timedelta(seconds=settings.webhook_timeout_seconds + 30)


async def claim_due(
    database: Any, settings: OrdersSettings, limit: int
) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
    async with database.transaction() as session:
        due = (
            sa.select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= sa.func.now(),
                WebhookEndpoint.enabled.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
        ids = (
            (
                await session.execute(
                    sa.update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(due.scalar_subquery()))
                    .values(next_attempt_at=datetime.now(UTC) + _lease(settings))
                    .returning(WebhookDelivery.id)
                    .execution_options(synchronize_session=False)
                )
            )
            .scalars()
            .all()
        )
        if not ids:
            return []
        rows = (
            await session.execute(
                sa.select(WebhookDelivery, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id.in_(ids))
            )
        ).all()
    return [(delivery, endpoint) for delivery, endpoint in rows]


async def _deliver_one(
    database: Any,
    client: httpx.AsyncClient,
    settings: OrdersSettings,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    outcomes: Any = None,
) -> None:
    status_code, error, duration_ms, at = await _attempt(client, delivery, endpoint, settings)
    if outcomes is not None:
        outcome = "unreachable" if status_code is None else "rejected" if error else "delivered"
        outcomes.labels(outcome).inc()
    try:
        async with database.transaction() as session:
            current = (
                await session.execute(
                    sa.select(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == "pending")
                    .with_for_update()
                )
            ).scalar_one_or_none()
            owner = await session.get(WebhookEndpoint, delivery.endpoint_id, with_for_update=True)
            if current is None or owner is None:
                return  # deleted meanwhile
            await _record(session, current, owner, status_code, error, duration_ms, at, settings)
    except (OSError, sa.exc.DBAPIError, sa.exc.InterfaceError) as exc:
        # Not recorded: the lease runs out and the delivery is tried again (at least once).
        log.warning("recording webhook delivery %s failed: %s", delivery.id, exc)


async def _release(database: Any, ids: list[uuid.UUID]) -> None:
    try:
        async with database.transaction() as session:
            await session.execute(
                sa.update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == "pending")
                .values(next_attempt_at=sa.func.now())
                .execution_options(synchronize_session=False)
            )
    except Exception as exc:  # shutting down; the leases expire anyway
        log.warning("releasing webhook leases failed: %s", exc)


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
    status: int | None = None
    with tracer().start_as_current_span(
        "webhook POST",
        # A child of the change the message announces (its request or event), however
        # long after it the attempt is made.
        context=context_from(delivery.trace_headers),
        kind=SpanKind.CLIENT,
        attributes={
            "http.request.method": "POST",
            "innopark.webhook.delivery_id": str(delivery.id),
            "innopark.webhook.endpoint_id": str(endpoint.id),
        },
    ) as span:
        headers.update(current_headers())  # the receiver may continue the trace
        try:
            await check_target(endpoint.url, allow_private=settings.webhook_allow_private_targets)
            response = await client.post(endpoint.url, content=body, headers=headers)
            status = response.status_code
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
            span.set_attribute("http.response.status_code", response.status_code)
        except (httpx.HTTPError, OSError, PermissionError) as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"[:1000]
            span.set_attribute("error.type", type(exc).__name__)
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
        await settle_copies(session, delivery)
        return
    schedule = settings.webhook_retry_schedule
    if delivery.attempts < len(schedule):
        jitter = 1 + random.uniform(-settings.webhook_jitter, settings.webhook_jitter)
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
        log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


async def settle_copies(session: AsyncSession, delivered: WebhookDelivery) -> int:
    """The message reached the endpoint: any other copy of it still pending for that
    endpoint (a retry scheduled before a manual redelivery) is settled, not sent again."""
    settled = await session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == delivered.endpoint_id,
            WebhookDelivery.message_id == delivered.message_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.id != delivered.id,
        )
        .values(
            status="succeeded",
            next_attempt_at=None,
            succeeded_at=delivered.succeeded_at,
        )
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    return len(settled.all())
