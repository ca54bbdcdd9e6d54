"""What orders publishes, and the events it subscribes to (listed in one place).

Publishes the order and proposal lifecycle (`innopark_shared.contracts.orders`); the
packages write each event to the outbox (`models.outbox`) in the transaction of the
change. Consumes the registry's park and resident events for its local read models.
"""

from __future__ import annotations

from innopark_shared.consumer import HandlerContext, Subscriptions
from innopark_shared.contracts.orders import (
    OrderAwardedV1,
    OrderCancelledV1,
    OrderClosedV1,
    OrderExpiredV1,
    OrderPublishedV1,
    OrderReturnedV1,
    OrderSubmittedV1,
    PartnerRegisteredV1,
    PartnerUpdatedV1,
    ProposalAcceptedV1,
    ProposalReceivedV1,
    ProposalRejectedV1,
    ProposalShortlistedV1,
    ProposalWithdrawnV1,
)
from innopark_shared.contracts.registry import ResidentAdmittedV1, ResidentLeftV1, ResidentUpdatedV1
from innopark_shared.outbox import topics_of
from innopark_shared.readmodels.parks import subscribe_known_parks
from innopark_shared.readmodels.revocations import subscribe_revocations

from . import residents
from .models import known_parks, token_revocations

PUBLISHES: list[str] = topics_of(
    OrderSubmittedV1,
    OrderReturnedV1,
    OrderPublishedV1,
    OrderCancelledV1,
    OrderClosedV1,
    OrderAwardedV1,
    OrderExpiredV1,
    ProposalReceivedV1,
    ProposalShortlistedV1,
    ProposalAcceptedV1,
    ProposalRejectedV1,
    ProposalWithdrawnV1,
    PartnerRegisteredV1,
    PartnerUpdatedV1,
)

subscriptions = Subscriptions()
# Tokens revoked at the gateway are refused here too.
subscribe_revocations(subscriptions, token_revocations)
# Park created / updated / removed keep the local copy of the registry's parks.
subscribe_known_parks(subscriptions, known_parks)


@subscriptions.on(ResidentAdmittedV1)
@subscriptions.on(ResidentUpdatedV1)
async def on_resident_changed(event: ResidentAdmittedV1, ctx: HandlerContext) -> None:
    """Residents read model (for matching): the latest snapshot wins."""
    await residents.apply_resident_snapshot(ctx.session, event, ctx.envelope.time)


@subscriptions.on(ResidentLeftV1)
async def on_resident_left(event: ResidentLeftV1, ctx: HandlerContext) -> None:
    await residents.apply_resident_left(ctx.session, event, ctx.envelope.time)
