"""What accreditation publishes, and the events it subscribes to (listed in one place)."""

from __future__ import annotations

from innopark_shared.consumer import HandlerContext, Subscriptions
from innopark_shared.contracts import ParkCreatedV1
from innopark_shared.readmodels.parks import apply_park_created

from .models import known_parks

PUBLISHES: list[str] = []

subscriptions = Subscriptions()


@subscriptions.on(ParkCreatedV1)
async def on_park_created(event: ParkCreatedV1, ctx: HandlerContext) -> None:
    await apply_park_created(ctx.session, known_parks, event, ctx.envelope.time)
