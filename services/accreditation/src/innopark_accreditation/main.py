"""Accreditation application factory."""

from fastapi import FastAPI
from innopark_shared.web import create_service_app

from .api import router
from .config import get_settings
from .events import PUBLISHES, subscriptions
from .jobs import expire_certificates
from .models import metadata
from .signing import load_or_create_signer


def create_app() -> FastAPI:
    settings = get_settings()
    app = create_service_app(
        settings=settings,
        metadata=metadata,
        title="Innopark Accreditation",
        description=(
            "Criteria catalogue, applications, expert assessments, decisions, certificates."
        ),
        routers=[router],
        subscriptions=subscriptions,
        publishes=PUBLISHES,
        background=[expire_certificates],
    )
    # Loaded (or created) at start-up, so a bad key file fails fast.
    app.state.signer = load_or_create_signer(settings.certificate_signing_key_path)
    return app
