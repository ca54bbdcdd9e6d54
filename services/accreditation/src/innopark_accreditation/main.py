"""Accreditation application factory."""

from __future__ import annotations

from fastapi import FastAPI
from innopark_shared.web import create_service_app

from .api import routers
from .certificates.signing import load_or_create_signer
from .config import AccreditationSettings, get_settings
from .events import PUBLISHES, subscriptions
from .jobs import expire_certificates
from .models import metadata, notifications


def create_app(settings: AccreditationSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        settings=settings,
        metadata=metadata,
        title="Innopark Accreditation",
        description=(
            "Criteria catalogue, applications, expert assessments, decisions, certificates."
        ),
        routers=routers,
        subscriptions=subscriptions,
        publishes=PUBLISHES,
        background=[expire_certificates, notifications.sender],
    )
    # Loaded (or created) at start-up, so a bad key file fails fast.
    app.state.signer = load_or_create_signer(settings.certificate_signing_key_path)
    return app
