"""What the registry publishes, and the events it subscribes to (listed in one place)."""

from __future__ import annotations

from innopark_shared.consumer import Subscriptions
from innopark_shared.contracts import PARKS_TOPIC, IntegrationEvent
from innopark_shared.outbox import add_event, event_source
from sqlalchemy.ext.asyncio import AsyncSession

from .models import metadata

PUBLISHES = [PARKS_TOPIC]
SOURCE = event_source("registry")

subscriptions = Subscriptions()


async def publish(session: AsyncSession, event: IntegrationEvent) -> None:
    await add_event(session, metadata, event, source=SOURCE)
