"""What the events service publishes, and the events it subscribes to (one place).

Other services call this module `events.py`; here that name is the events aggregate's
package (`innopark_events.events`), so the messaging declarations live under this name.
Domain code writes its events with `models.outbox`, never through this module.
"""

from __future__ import annotations

from innopark_shared.consumer import HandlerContext, Subscriptions
from innopark_shared.contracts.events import (
    EventCancelledV1,
    EventCompletedV1,
    EventPublishedV1,
    EventRegistrationClosedV1,
    EventUpdatedV1,
    RegistrationAttendedV1,
    RegistrationCancelledV1,
    RegistrationConfirmedV1,
    RegistrationPendingV1,
    RegistrationRejectedV1,
    RegistrationWaitlistedV1,
)
from innopark_shared.contracts.registry import (
    ResidentAdmittedV1,
    ResidentLeftV1,
    ResidentUpdatedV1,
)
from innopark_shared.outbox import topics_of
from innopark_shared.readmodels.parks import subscribe_known_parks
from innopark_shared.readmodels.revocations import subscribe_revocations

from . import hostparks
from .models import known_parks, token_revocations

PUBLISHES: list[str] = topics_of(
    # innopark.events.events
    EventPublishedV1,
    EventUpdatedV1,
    EventRegistrationClosedV1,
    EventCompletedV1,
    EventCancelledV1,
    # innopark.events.registrations
    RegistrationPendingV1,
    RegistrationConfirmedV1,
    RegistrationWaitlistedV1,
    RegistrationRejectedV1,
    RegistrationCancelledV1,
    RegistrationAttendedV1,
)

subscriptions = Subscriptions()
# Tokens revoked at the gateway are refused here too.
subscribe_revocations(subscriptions, token_revocations)


# Parks: which may host an event, and which are members of the association.
# (a fetch's park states in one statement)
subscribe_known_parks(subscriptions, known_parks)


# Residents (and their park) decide who may register for members-only events.
@subscriptions.on(ResidentAdmittedV1)
@subscriptions.on(ResidentUpdatedV1)
async def on_resident_changed(event: ResidentAdmittedV1, ctx: HandlerContext) -> None:
    await hostparks.record_resident(ctx.session, event, ctx.envelope.time)


@subscriptions.on(ResidentLeftV1)
async def on_resident_left(event: ResidentLeftV1, ctx: HandlerContext) -> None:
    await hostparks.record_resident_left(ctx.session, event, ctx.envelope.time)
