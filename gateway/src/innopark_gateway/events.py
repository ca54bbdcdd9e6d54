"""What the gateway publishes, and the events it subscribes to (listed in one place).

Publishes the user lifecycle and token revocations (`innopark_shared.contracts.gateway`),
written to the outbox in the transaction of the change (`service.py`). Consumes the
registry's park and resident events and orders' partner events, to know what a role may
be bound to (`known_bindings`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from innopark_shared.consumer import HandlerContext, Subscriptions
from innopark_shared.contracts.gateway import (
    TokensRevokedV1,
    UserCreatedV1,
    UserDeletedV1,
    UserUpdatedV1,
)
from innopark_shared.contracts.orders import PartnerRegisteredV1, PartnerUpdatedV1
from innopark_shared.contracts.registry import (
    ParkCreatedV1,
    ParkRemovedV1,
    ParkUpdatedV1,
    ResidentAdmittedV1,
    ResidentLeftV1,
    ResidentUpdatedV1,
)
from innopark_shared.outbox import topics_of

from .service import apply_binding_snapshot

PUBLISHES: list[str] = topics_of(UserCreatedV1, UserUpdatedV1, UserDeletedV1, TokensRevokedV1)

subscriptions = Subscriptions()

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # resident events carry no time of their own


def _at(ctx: HandlerContext, fallback: datetime) -> datetime:
    return ctx.envelope.time or fallback


@subscriptions.on(ParkCreatedV1)
@subscriptions.on(ParkUpdatedV1)
async def on_park(event: ParkCreatedV1, ctx: HandlerContext) -> None:
    await apply_binding_snapshot(
        ctx.session,
        kind="park",
        entity_id=event.park_id,
        removed=False,
        at=_at(ctx, event.created_at),
    )


@subscriptions.on(ParkRemovedV1)
async def on_park_removed(event: ParkRemovedV1, ctx: HandlerContext) -> None:
    await apply_binding_snapshot(
        ctx.session,
        kind="park",
        entity_id=event.park_id,
        removed=True,
        at=_at(ctx, event.removed_at),
    )


@subscriptions.on(ResidentAdmittedV1)
@subscriptions.on(ResidentUpdatedV1)
async def on_resident(event: ResidentAdmittedV1, ctx: HandlerContext) -> None:
    await apply_binding_snapshot(
        ctx.session,
        kind="resident",
        entity_id=event.resident_id,
        removed=False,
        at=_at(ctx, EPOCH),
    )


@subscriptions.on(ResidentLeftV1)
async def on_resident_left(event: ResidentLeftV1, ctx: HandlerContext) -> None:
    await apply_binding_snapshot(
        ctx.session,
        kind="resident",
        entity_id=event.resident_id,
        removed=True,
        at=_at(ctx, EPOCH),
    )


@subscriptions.on(PartnerRegisteredV1)
@subscriptions.on(PartnerUpdatedV1)
async def on_partner(event: PartnerRegisteredV1, ctx: HandlerContext) -> None:
    await apply_binding_snapshot(
        ctx.session,
        kind="partner",
        entity_id=event.partner_id,
        removed=False,
        at=_at(ctx, event.occurred_at),
    )
