"""Orders settings (environment variables; see the README's configuration table)."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from innopark_shared.db import app_settings
from innopark_shared.settings import ServiceSettings
from pydantic import Field


class OrdersSettings(ServiceSettings):
    service_name: str = "orders"
    port: int = 8002

    # Webhook delivery. The schedule is the delay before attempt n+1 after attempt n
    # failed (Standard Webhooks' suggestion); each delay gets +-20% jitter. When the
    # schedule is used up the delivery is marked failed (it can still be redelivered).
    webhook_retry_schedule: list[float] = Field(
        default=[0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    )
    webhook_jitter: float = 0.2
    # An endpoint is disabled after this many consecutive failed attempts (or at once
    # on 410 Gone); the reason is shown to the partner.
    webhook_disable_after_failures: int = 50
    webhook_timeout_seconds: float = 10.0
    webhook_poll_interval_seconds: float = 1.0
    webhook_batch_size: int = 50
    # SSRF guard: targets in private, loopback and link-local ranges are refused unless
    # this is set (tests and local development only).
    webhook_allow_private_targets: bool = False

    # Published orders past their deadline become `expired` on this sweep.
    expiry_sweep_interval_seconds: float = 30.0

    # How long an Idempotency-Key and its stored response are kept.
    idempotency_ttl_hours: float = 24.0

    # Matching: weights of the tag overlap and of the text relevance, and list sizes.
    match_weight_tags: float = 0.7
    match_weight_text: float = 0.3
    match_min_score: float = 0.05
    # Full-text rank at which the text score is 0.5 (score = rank / (rank + this)).
    match_text_half_rank: float = 0.05
    match_max_residents: int = 50
    match_max_parks: int = 20


@lru_cache
def get_settings() -> OrdersSettings:
    """The settings from the environment (for the command line; routes use `SettingsDep`)."""
    return OrdersSettings()


# The settings the app was built with, for routes.
SettingsDep = Annotated[OrdersSettings, Depends(app_settings)]
