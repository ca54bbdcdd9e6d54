"""The partners' catch-up feed: every message a partner's webhooks would have received
(`partner_events`, written with the change, whether or not an endpoint wanted it then),
in commit order behind one cursor, so an integrator who missed deliveries can reconcile;
and sending one of them again to the partner's endpoints.

The feed shows only rows of transactions older than every transaction still running
(`pg_snapshot_xmin`): a message that commits late is never skipped by a cursor already
handed out, and writers never wait for the feed. A partner reads only its own messages,
as they were sent: the same payload as the webhook, so the same confidentiality (a
proposer is named only once shortlisted).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.errors import InvalidTransition, NotFound, Unprocessable
from innopark_shared.pagination import decode_cursor, encode_cursor
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import PartnerEvent, WebhookDelivery, WebhookEndpoint
from .service import send_again

_HORIZON = sa.select(sa.text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))


@dataclass(frozen=True, slots=True)
class FeedPage:
    items: list[tuple[PartnerEvent, list[WebhookDelivery]]]
    next_cursor: str  # always given: the integrator keeps polling from it


def _position(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return (-1, -1)
    values = decode_cursor(cursor, 2)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise Unprocessable.for_field(
            "cursor", "not a cursor this feed returned", location="query", detail="Invalid cursor"
        )
    return values[0], values[1]


def _partner_scope(principal: Principal, partner_id: uuid.UUID | None) -> uuid.UUID | None:
    """Whose messages: a partner's own only; the association's, any partner's (or all)."""
    if principal.is_operator:
        return partner_id
    if partner_id is not None and partner_id != principal.partner_id:
        raise NotFound("No such partner")
    return principal.partner_id


async def partner_events(
    *,
    session: AsyncSession,
    principal: Principal,
    cursor: str | None,
    limit: int,
    types: list[str] | None = None,
    partner_id: uuid.UUID | None = None,
) -> FeedPage:
    """The next `limit` messages after `cursor`, each with its deliveries so far."""
    after = _position(cursor)
    scope = _partner_scope(principal, partner_id)
    horizon = (await session.execute(_HORIZON)).scalar_one()
    key = sa.tuple_(PartnerEvent.xid, PartnerEvent.seq)
    stmt = sa.select(PartnerEvent).where(key > sa.tuple_(*after), PartnerEvent.xid < horizon)
    if scope is not None:
        stmt = stmt.where(PartnerEvent.partner_id == scope)
    if types:
        stmt = stmt.where(PartnerEvent.event_type.in_(types))
    rows = list(
        (
            await session.scalars(stmt.order_by(PartnerEvent.xid, PartnerEvent.seq).limit(limit))
        ).all()
    )
    deliveries: dict[str, list[WebhookDelivery]] = {r.message_id: [] for r in rows}
    if rows:
        found = await session.scalars(
            sa.select(WebhookDelivery)
            .where(WebhookDelivery.message_id.in_(list(deliveries)))
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        )
        for delivery in found:
            deliveries[delivery.message_id].append(delivery)
    next_cursor = encode_cursor(rows[-1].xid, rows[-1].seq) if rows else None
    return FeedPage(
        [(r, deliveries[r.message_id]) for r in rows],
        next_cursor or cursor or encode_cursor(-1, -1),
    )


async def redeliver_event(
    *,
    session: AsyncSession,
    principal: Principal,
    message_id: str,
    endpoint_id: uuid.UUID | None,
) -> list[WebhookDelivery]:
    """Send a message of the feed again (same `webhook-id`) to the partner's enabled
    endpoints that want its type, or to the one named; a retry still pending is brought
    forward rather than copied."""
    event = (
        await session.execute(
            sa.select(PartnerEvent).where(
                PartnerEvent.message_id == message_id,
                PartnerEvent.partner_id == principal.partner_id,
            )
        )
    ).scalar_one_or_none()
    if event is None:
        raise NotFound("No such message")
    stmt = sa.select(WebhookEndpoint).where(
        WebhookEndpoint.partner_id == event.partner_id, WebhookEndpoint.enabled.is_(True)
    )
    if endpoint_id is not None:
        named = await session.get(WebhookEndpoint, endpoint_id)
        if named is None or named.partner_id != event.partner_id:
            raise NotFound("No such webhook endpoint")
        stmt = stmt.where(WebhookEndpoint.id == endpoint_id)
    else:
        stmt = stmt.where(
            sa.or_(
                sa.func.cardinality(WebhookEndpoint.event_types) == 0,
                sa.literal(event.event_type) == sa.any_(WebhookEndpoint.event_types),
            )
        )
    endpoints = list((await session.scalars(stmt.order_by(WebhookEndpoint.created_at))).all())
    if not endpoints:
        raise InvalidTransition(
            "No enabled endpoint to send this message to"
            + (" (the one named is disabled)" if endpoint_id is not None else ""),
            event_type=event.event_type,
        )
    return [
        await send_again(
            session,
            endpoint,
            message_id=event.message_id,
            event_type=event.event_type,
            payload=event.payload,
        )
        for endpoint in endpoints
    ]
