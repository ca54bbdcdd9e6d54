"""Orders application factory."""

from fastapi import FastAPI
from innopark_shared.web import create_service_app

from .api import routers, webhooks
from .config import OrdersSettings, get_settings
from .events import PUBLISHES, subscriptions
from .jobs import BACKGROUND
from .models import metadata, notifications


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or get_settings(),
        metadata=metadata,
        title="Innopark Orders",
        description=(
            "Partner corporations, transnational technology orders, matching, proposals, "
            "partner webhooks.\n\nCreates (`POST /orders`, `POST /orders/{id}/proposals`, "
            "`POST /webhooks`) accept an `Idempotency-Key` header: a replay within 24 hours "
            "returns the stored response (`Idempotent-Replayed: true`), the same key with "
            "another body is a 422, a retry while the first is still running a 409."
        ),
        routers=routers,
        webhooks=webhooks,
        subscriptions=subscriptions,
        publishes=PUBLISHES,
        background=[*BACKGROUND, notifications.sender],
    )
