"""Accreditation settings (environment variables; see the README's configuration table)."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from innopark_shared.db import app_settings
from innopark_shared.settings import ServiceSettings
from pydantic import Field


class AccreditationSettings(ServiceSettings):
    service_name: str = "accreditation"
    port: int = 8003

    # Ed25519 key that signs certificates (PKCS#8 PEM). Generated on first start when
    # missing; replicas must share the file (a volume or a mounted secret). By default it
    # sits in the dev runner's data folder, beside the gateway's token key.
    certificate_signing_key_path: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("INNOPARK_DATA_DIR", ".data")) / "keys" / "certificates-ed25519.pem"
        )
    )
    # Prefix of certificate numbers: ATP-2026-0001.
    certificate_number_prefix: str = Field(default="ATP", pattern=r"^[A-Z]{2,8}$")
    # Validity of a granted certificate unless the decision says otherwise.
    certificate_validity_years: int = Field(default=3, ge=1, le=10)
    # How often the expiry sweep looks for certificates past their valid-until date.
    expiry_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    # Alerts (flagged at /api/v1/certificates/alerts and mailed to the park once each):
    # a certificate this many days or fewer from its valid-until date; an annual
    # monitoring report still missing this many days after the end of its year.
    certificate_expiry_notice_days: int = Field(default=60, ge=1, le=365)
    monitoring_report_grace_days: int = Field(default=90, ge=0, le=365)
    # Where alerts go for a park whose e-mail the registry has not given (the
    # association's accreditation desk); unset: such a park's alert is flagged, not mailed.
    accreditation_notification_email: str | None = None
    # The issuer named in every certificate's signed content.
    certificate_issuer: str = "Association of Technological Parks in High-tech Area"


@lru_cache
def get_settings() -> AccreditationSettings:
    return AccreditationSettings()


# Routes read the settings the app was built with (`create_app(settings=...)`).
SettingsDep = Annotated[AccreditationSettings, Depends(app_settings)]
