"""What orders publishes, and the events it subscribes to (listed in one place).

Every lifecycle event goes to the outbox in the transaction of the change, and to the
owning partner's webhook endpoints (their delivery queue) in that same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.consumer import HandlerContext, Subscriptions
from innopark_shared.contracts.orders import (
    ORDERS_TOPIC,
    PROPOSALS_TOPIC,
    OrderAwardedV1,
    OrderCancelledV1,
    OrderClosedV1,
    OrderExpiredV1,
    OrderPublishedV1,
    OrderReturnedV1,
    OrderSubmittedV1,
    ProposalAcceptedV1,
    ProposalReceivedV1,
    ProposalRejectedV1,
    ProposalShortlistedV1,
    ProposalWithdrawnV1,
)
from innopark_shared.contracts.registry import ResidentAdmittedV1, ResidentLeftV1, ResidentUpdatedV1
from innopark_shared.outbox import add_event, event_source
from innopark_shared.readmodels.parks import subscribe_known_parks
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from . import webhooks
from .matching import resident_search_vector
from .models import KnownResident, Order, Proposal, known_parks, metadata

PUBLISHES: list[str] = [ORDERS_TOPIC, PROPOSALS_TOPIC]
SOURCE = event_source("orders")

# action -> (event class, webhook event type)
ORDER_EVENTS = {
    "submit": (OrderSubmittedV1, "order.submitted"),
    "return": (OrderReturnedV1, "order.returned"),
    "publish": (OrderPublishedV1, "order.published"),
    "cancel": (OrderCancelledV1, "order.cancelled"),
    "close": (OrderClosedV1, "order.closed"),
    "award": (OrderAwardedV1, "order.awarded"),
    "expire": (OrderExpiredV1, "order.expired"),
}
PROPOSAL_EVENTS = {
    "receive": (ProposalReceivedV1, "proposal.received"),
    "shortlist": (ProposalShortlistedV1, "proposal.shortlisted"),
    "accept": (ProposalAcceptedV1, "proposal.accepted"),
    "reject": (ProposalRejectedV1, "proposal.rejected"),
    "withdraw": (ProposalWithdrawnV1, "proposal.withdrawn"),
}


async def publish(session: AsyncSession, event: Any, *, partner_id: Any, webhook_type: str) -> None:
    """The event to the outbox, and to the partner's webhooks (with the partner named)."""
    await add_event(session, metadata, event, source=SOURCE)
    data = event.model_dump(mode="json")
    data["partner_id"] = str(partner_id)
    await webhooks.enqueue(session, partner_id=partner_id, event_type=webhook_type, data=data)


async def publish_order_event(
    session: AsyncSession,
    order: Order,
    action: str,
    *,
    previous: str | None,
    actor: Principal,
    reason: str | None,
    **extra: Any,
) -> None:
    event_cls, webhook_type = ORDER_EVENTS[action]
    event = event_cls(
        order_id=order.id,
        reference=order.reference,
        partner_id=None if order.confidential else order.partner_id,
        title=order.title,
        technology_tags=list(order.technology_tags),
        status=order.status,
        previous_status=previous,
        actor_role="system" if actor.subject == "system" else str(actor.role),
        reason=reason,
        deadline=order.deadline,
        occurred_at=datetime.now(UTC),
        **extra,
    )
    await publish(session, event, partner_id=order.partner_id, webhook_type=webhook_type)


async def publish_proposal_event(
    session: AsyncSession,
    proposal: Proposal,
    order: Order,
    action: str,
    *,
    previous: str | None,
    reason: str | None,
) -> None:
    event_cls, webhook_type = PROPOSAL_EVENTS[action]
    extra: dict[str, Any] = {}
    if action == "receive":
        extra["summary"] = proposal.summary
    if action == "reject":
        extra["rejection_reason"] = proposal.rejection_reason
    event = event_cls(
        proposal_id=proposal.id,
        order_id=order.id,
        order_reference=order.reference,
        partner_id=None if order.confidential else order.partner_id,
        proposer_kind=proposal.proposer_kind,
        resident_id=proposal.proposer_id if proposal.proposer_kind == "resident" else None,
        park_id=proposal.proposer_id if proposal.proposer_kind == "park" else None,
        status=proposal.status,
        previous_status=previous,
        reason=reason,
        occurred_at=datetime.now(UTC),
        **extra,
    )
    await publish(session, event, partner_id=order.partner_id, webhook_type=webhook_type)


subscriptions = Subscriptions()
# Park created / updated / removed keep the local copy of the registry's parks.
subscribe_known_parks(subscriptions, known_parks)


@subscriptions.on(ResidentAdmittedV1)
@subscriptions.on(ResidentUpdatedV1)
async def on_resident_changed(event: ResidentAdmittedV1, ctx: HandlerContext) -> None:
    """Residents read model (for matching): the latest snapshot wins."""
    source_time = ctx.envelope.time or datetime.now(UTC)
    values = {
        "resident_id": event.resident_id,
        "park_id": event.park_id,
        "name": event.name,
        "technologies": list(event.technologies),
        "sectors": list(event.sectors),
        "tags": sorted(
            {t.strip().lower() for t in [*event.technologies, *event.sectors] if t.strip()}
        ),
        "description": event.description,
        "contact_email": event.contact_email,
        "stage": event.stage,
        "search": resident_search_vector(
            event.name, event.technologies, event.sectors, event.description
        ),
        "left": False,
        "source_time": source_time,
        "synced_at": sa.func.now(),
    }
    stmt = pg_insert(KnownResident).values(**values)
    await ctx.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["resident_id"],
            set_={k: stmt.excluded[k] for k in values if k != "resident_id"},
            where=KnownResident.source_time <= stmt.excluded.source_time,
        )
    )


@subscriptions.on(ResidentLeftV1)
async def on_resident_left(event: ResidentLeftV1, ctx: HandlerContext) -> None:
    source_time = ctx.envelope.time or datetime.now(UTC)
    await ctx.session.execute(
        sa.update(KnownResident)
        .where(
            KnownResident.resident_id == event.resident_id, KnownResident.source_time <= source_time
        )
        .values(left=True, source_time=source_time, synced_at=sa.func.now())
    )
