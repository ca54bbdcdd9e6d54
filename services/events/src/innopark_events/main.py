"""Events application factory."""

from fastapi import FastAPI
from innopark_shared.web import create_service_app

from .api import routers
from .config import EventsSettings, get_settings
from .jobs import lifecycle_sweep
from .messaging import PUBLISHES, subscriptions
from .models import metadata, notifications


def create_app(settings: EventsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or get_settings(),
        metadata=metadata,
        title="Innopark Events",
        description="Training, forums, delegations and study tours, with registration.",
        routers=routers,
        subscriptions=subscriptions,
        publishes=PUBLISHES,
        background=[lifecycle_sweep, notifications.sender],
    )
