"""Registry application factory."""

from fastapi import FastAPI
from innopark_shared.web import create_service_app

from .api import routers
from .config import RegistrySettings, get_settings
from .events import PUBLISHES, subscriptions
from .models import metadata


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or get_settings(),
        metadata=metadata,
        title="Innopark Registry",
        description=(
            "Parks and other infrastructure objects, residents, clusters, cooperation "
            "agreements, KPI reports and association-wide statistics."
        ),
        routers=routers,
        subscriptions=subscriptions,
        publishes=PUBLISHES,
    )
